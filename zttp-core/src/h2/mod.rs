//! HTTP/2 (RFC 9113). Placeholder until the HTTP/2 engine lands.

use crate::outbound::Outbound;
use crate::{Config, Error, ErrorCode, Event, LocalProtocolError, RemoteProtocolError, Role};

#[derive(Debug)]
pub(crate) struct H2Connection {
    out: Outbound,
}

impl H2Connection {
    pub(crate) fn new(_role: Role, _config: &Config) -> Self {
        H2Connection {
            out: Outbound::default(),
        }
    }
    pub(crate) fn receive_data(&mut self, _data: &[u8]) {}
    pub(crate) fn next_event(&mut self) -> Result<Event, Error> {
        Ok(Event::NeedData)
    }
    pub(crate) fn send(&mut self, _event: Event) -> Result<(), LocalProtocolError> {
        Err(LocalProtocolError::WrongProtocol)
    }
    pub(crate) fn should_close(&self) -> bool {
        true
    }
    pub(crate) fn remote_error(&self) -> Option<RemoteProtocolError> {
        None
    }
    pub(crate) fn last_request_stream(&self) -> u32 {
        0
    }
    pub(crate) fn outbound(&mut self) -> &mut Outbound {
        &mut self.out
    }
    pub(crate) fn outbound_ref(&self) -> &Outbound {
        &self.out
    }
    pub(crate) fn next_stream_id(&self) -> u32 {
        1
    }
    pub(crate) fn reset_stream(
        &mut self,
        _id: u32,
        _code: ErrorCode,
    ) -> Result<(), LocalProtocolError> {
        Err(LocalProtocolError::WrongProtocol)
    }
    pub(crate) fn ping(&mut self, _data: [u8; 8]) {}
    pub(crate) fn goaway(&mut self, _code: ErrorCode, _debug: &[u8]) {}
    pub(crate) fn acknowledge_received_data(&mut self, _id: u32, _n: usize) {}
    pub(crate) fn send_window(&self, _id: u32) -> usize {
        0
    }
    pub(crate) fn open_streams(&self) -> usize {
        0
    }
}
