//! A client's WebSocket frame, encoded by tungstenite rather than by the code
//! under test. Shared by the integration tests (through `common`) and the
//! frame parser's unit tests (through a `#[path]` module).

use tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode;
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

/// A frame whose first byte is `first` (FIN, reserved bits, opcode), masked
/// with `mask` as a client must.
pub fn client_frame(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let header = FrameHeader {
        is_final: first & 0x80 != 0,
        rsv1: first & 0x40 != 0,
        rsv2: first & 0x20 != 0,
        rsv3: first & 0x10 != 0,
        opcode: OpCode::from(first & 0x0F),
        mask: Some(mask),
    };
    let mut out = Vec::new();
    Frame::from_payload(header, payload.to_vec().into())
        .format(&mut out)
        .expect("a Vec takes any frame");
    out
}
