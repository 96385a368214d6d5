//! The WebSocket codec (RFC 6455) under the engine's WebSocket transport,
//! public for servers and test clients that want frames without Engine.IO
//! (the `ws_echo` example is one).
//!
//! Like the rest of the engine's codecs it does no I/O and keeps no socket:
//! bytes in, frames and messages out, protocol violations as error values
//! that name the close code to answer with. The server side of the protocol
//! only: client frames are parsed (they must be masked), server frames are
//! written (never masked, every message in one final frame). No extension is
//! ever negotiated.
//!
//! - **Reading a client's messages.** Keep one [`Assembler`] per connection
//!   and call [`Assembler::step`] on the bytes read so far: it answers
//!   [`Step::NeedMore`] (with the whole frame's size once its header is
//!   there, so the reader can make room), or takes one whole frame, unmasks
//!   it in place, and hands back what it completes as an [`Incoming`]: a text
//!   or binary message (fragments joined, text checked as UTF-8), a ping to
//!   answer, a pong, or the peer's close. A message over the limit is refused
//!   from its header alone, and text that cannot be UTF-8 as soon as the
//!   offending bytes arrive: the part of a text frame read so far is unmasked
//!   and checked in place, so after [`Step::NeedMore`] the next step must be
//!   given the same bytes, as that step left them, followed by more. Lower
//!   down, [`parse_header`] reads one frame header and [`unmask`] undoes the
//!   client's masking.
//! - **Writing the server's frames.** [`write_header`] writes the header of a
//!   final frame into the end of a [`MAX_HEADER`]-byte array; the payload
//!   follows as it is. [`frame`] builds a whole frame in one buffer, and
//!   [`control_frame`] and [`close_frame`] whole pongs and close frames.
//! - **Closing.** Every [`ReadError`] gives its close code
//!   ([`ReadError::close_code`]): [`PROTOCOL_ERROR`], [`INVALID_PAYLOAD`] or
//!   [`MESSAGE_TOO_BIG`]; [`NORMAL_CLOSURE`] ends a connection normally. A
//!   peer's close frame is answered with a close frame of its own code.
//!
//! ```
//! use rally_engine::ws::{write_header, Assembler, Incoming, Opcode, Step, MAX_HEADER};
//!
//! // A client's text frame "hi", masked with a key of zeros.
//! let mut read = vec![0x81, 0x82, 0, 0, 0, 0, b'h', b'i'];
//! let mut assembler = Assembler::new(1 << 20);
//! let Ok(Step::Frame { consumed: 8, incoming: Some(Incoming::Text(text)) }) =
//!     assembler.step(&mut read)
//! else {
//!     panic!("one whole text frame");
//! };
//! assert_eq!(text, "hi");
//!
//! // The answer: a header, then the payload as it is.
//! let mut header = [0u8; MAX_HEADER];
//! let used = write_header(&mut header, Opcode::Text, text.len());
//! assert_eq!(header[MAX_HEADER - used..], [0x81, 2]);
//! ```

pub use crate::codec::ws_frame::{
    close_frame, control_frame, frame, parse_header, unmask, write_header, FrameError, Header,
    Opcode, INVALID_PAYLOAD, MAX_HEADER, MESSAGE_TOO_BIG, NORMAL_CLOSURE, PROTOCOL_ERROR,
};
pub use crate::codec::ws_message::{Assembler, Incoming, ReadError, Step};
