//! HTTP/1.1 (RFC 9112). Placeholder while the engine is written.

use bytes::Bytes;

use crate::outbound::Outbound;
use crate::{Config, Error, Event, LocalProtocolError, RemoteProtocolError, Role};

#[derive(Debug)]
pub(crate) struct H1Connection {
    out: Outbound,
}

impl H1Connection {
    pub(crate) fn new(_role: Role, _config: &Config) -> Self {
        H1Connection {
            out: Outbound::default(),
        }
    }
    pub(crate) fn receive_data(&mut self, _data: &[u8]) {}
    pub(crate) fn next_event(&mut self) -> Result<Event, Error> {
        Ok(Event::NeedData)
    }
    pub(crate) fn send(&mut self, _event: Event) -> Result<(), LocalProtocolError> {
        Ok(())
    }
    pub(crate) fn should_close(&self) -> bool {
        false
    }
    pub(crate) fn upgrade(&self) -> Option<&[u8]> {
        None
    }
    pub(crate) fn remote_error(&self) -> Option<RemoteProtocolError> {
        None
    }
    pub(crate) fn start_next_cycle(&mut self) -> Result<(), LocalProtocolError> {
        Ok(())
    }
    pub(crate) fn take_trailing_data(&mut self) -> Bytes {
        Bytes::new()
    }
    pub(crate) fn outbound(&mut self) -> &mut Outbound {
        &mut self.out
    }
    pub(crate) fn outbound_ref(&self) -> &Outbound {
        &self.out
    }
    pub(crate) fn in_message(&self) -> bool {
        false
    }
}
