#!/usr/bin/env python3
"""A dice engine for the `dice` gateway (pyzmq).

Speaks the protocol of the original Tornado gateway: a REP socket that binds,
request "<client id> <roll>", reply "<client id>:<json>". Unlike that
engine it rolls every face (1..=sides, not randrange(1, sides)), checks its
input (1 to 100 dice of 2 to 1000 sides) and answers every request, so one
bad request never wedges the REP socket.

usage: engine.py [--bind tcp://127.0.0.1:5556] [--delay SECONDS]

Prints "listening on ENDPOINT" (flushed) once bound; port 0 picks a free one.
--delay waits before each answer, as the original engine's 2-second sleep did.
"""

import argparse
import json
import random
import re
import sys
import time

import zmq

ROLL = re.compile(r"^\s*(\d{1,3})[dD](\d{1,4})\s*$")
MAX_DICE = 100
MAX_SIDES = 1000


def roll(text):
    """The faces of a roll like '3d6', or an error string."""
    match = ROLL.match(text)
    if not match:
        return "error: %r is not a roll like 3d6" % text[:32]
    dice, sides = int(match.group(1)), int(match.group(2))
    if not 1 <= dice <= MAX_DICE:
        return "error: roll 1 to %d dice" % MAX_DICE
    if not 2 <= sides <= MAX_SIDES:
        return "error: a die has 2 to %d sides" % MAX_SIDES
    return [random.randint(1, sides) for _ in range(dice)]


def answer(request):
    """The reply frame to one request frame."""
    words = request.decode("utf-8", "replace").split()
    client = words[0] if words else ""
    if len(words) != 2:
        return "%s:%s" % (client, json.dumps("error: expected '<client id> <roll>'"))
    return "%s:%s" % (client, json.dumps(roll(words[1])))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="tcp://127.0.0.1:5556")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()

    context = zmq.Context()
    socket = context.socket(zmq.REP)
    socket.setsockopt(zmq.LINGER, 0)
    socket.bind(args.bind)
    print("listening on %s" % socket.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    try:
        while True:
            request = socket.recv()
            if args.delay > 0:
                time.sleep(args.delay)
            socket.send_string(answer(request))
    except KeyboardInterrupt:
        pass
    finally:
        socket.close()
        context.term()


if __name__ == "__main__":
    sys.exit(main())
