//! MessagePack framing: one item at a time, as a [`Token`], from a byte slice. The
//! decoder builds values from these tokens, and the packet codec reads its few fields
//! with them and steps over the rest, so there is one parser of MessagePack's type bytes
//! and lengths, and every read in it is a bounds-checked slice.

use super::decode::DecodeError;

/// One MessagePack item as read: scalars whole, containers as their entry counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Token<'a> {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    Float(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Array(usize),
    Map(usize),
    /// `prefix` is kept: notepack gives a type different meanings in different forms.
    Ext {
        prefix: u8,
        tag: i8,
        body: &'a [u8],
    },
}

impl Token<'_> {
    /// How many items follow as this one's contents.
    pub(crate) fn children(&self) -> Result<usize, DecodeError> {
        match *self {
            Token::Array(n) => Ok(n),
            Token::Map(n) => n.checked_mul(2).ok_or(DecodeError::UnexpectedEnd),
            _ => Ok(0),
        }
    }

    /// notepack's value for JavaScript `undefined` (which its version 2 writes).
    pub(crate) fn is_undefined(&self) -> bool {
        matches!(
            self,
            Token::Ext {
                prefix: 0xd4,
                tag: 0,
                ..
            }
        )
    }
}

/// A position in a message.
pub(crate) struct Reader<'a> {
    input: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn at(input: &'a [u8], pos: usize) -> Self {
        Self { input, pos }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::UnexpectedEnd)?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or(DecodeError::UnexpectedEnd)?;
        self.pos = end;
        Ok(bytes)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.take(N)?
            .try_into()
            .map_err(|_| DecodeError::UnexpectedEnd)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(u8::from_be_bytes(self.fixed()?))
    }

    /// A length of 1, 2 or 4 bytes, as the form's `width` (0, 1, 2) says: MessagePack's
    /// 8/16/32-bit forms of a type have consecutive prefixes.
    fn len(&mut self, width: u8) -> Result<usize, DecodeError> {
        Ok(match width {
            0 => usize::from(self.byte()?),
            1 => usize::from(u16::from_be_bytes(self.fixed()?)),
            // Where a u32 does not fit usize, the bytes it counts cannot be there either.
            _ => usize::try_from(u32::from_be_bytes(self.fixed()?))
                .map_err(|_| DecodeError::UnexpectedEnd)?,
        })
    }

    fn ext(&mut self, prefix: u8, len: usize) -> Result<Token<'a>, DecodeError> {
        let tag = i8::from_be_bytes(self.fixed()?);
        let body = self.take(len)?;
        Ok(Token::Ext { prefix, tag, body })
    }

    /// The next item, or why there is none.
    pub(crate) fn token(&mut self) -> Result<Token<'a>, DecodeError> {
        let prefix = self.byte()?;
        Ok(match prefix {
            0x00..=0x7f => Token::Uint(u64::from(prefix)),
            0x80..=0x8f => Token::Map(usize::from(prefix & 0x0f)),
            0x90..=0x9f => Token::Array(usize::from(prefix & 0x0f)),
            0xa0..=0xbf => Token::Str(self.take(usize::from(prefix & 0x1f))?),
            0xc0 => Token::Nil,
            0xc1 => return Err(DecodeError::InvalidByte(prefix)),
            0xc2 => Token::Bool(false),
            0xc3 => Token::Bool(true),
            0xc4..=0xc6 => {
                let n = self.len(prefix - 0xc4)?;
                Token::Bin(self.take(n)?)
            }
            0xc7..=0xc9 => {
                let n = self.len(prefix - 0xc7)?;
                self.ext(prefix, n)?
            }
            0xca => Token::Float(f32::from_be_bytes(self.fixed()?).into()),
            0xcb => Token::Float(f64::from_be_bytes(self.fixed()?)),
            0xcc => Token::Uint(self.byte()?.into()),
            0xcd => Token::Uint(u16::from_be_bytes(self.fixed()?).into()),
            0xce => Token::Uint(u32::from_be_bytes(self.fixed()?).into()),
            0xcf => Token::Uint(u64::from_be_bytes(self.fixed()?)),
            0xd0 => Token::Int(i8::from_be_bytes(self.fixed()?).into()),
            0xd1 => Token::Int(i16::from_be_bytes(self.fixed()?).into()),
            0xd2 => Token::Int(i32::from_be_bytes(self.fixed()?).into()),
            0xd3 => Token::Int(i64::from_be_bytes(self.fixed()?)),
            0xd4 => self.ext(prefix, 1)?,
            0xd5 => self.ext(prefix, 2)?,
            0xd6 => self.ext(prefix, 4)?,
            0xd7 => self.ext(prefix, 8)?,
            0xd8 => self.ext(prefix, 16)?,
            0xd9..=0xdb => {
                let n = self.len(prefix - 0xd9)?;
                Token::Str(self.take(n)?)
            }
            0xdc | 0xdd => Token::Array(self.len(prefix - 0xdb)?),
            0xde | 0xdf => Token::Map(self.len(prefix - 0xdd)?),
            0xe0..=0xff => Token::Int(i8::from_be_bytes([prefix]).into()),
        })
    }

    /// Steps over `pending` whole items. Counts instead of recursing, so any depth
    /// is fine here, and gives up as soon as the items still owed could not fit in
    /// the input left (each takes at least a byte), so huge declared counts cost
    /// nothing.
    pub(crate) fn skip_items(&mut self, mut pending: usize) -> Result<(), DecodeError> {
        while pending > 0 {
            if pending > self.remaining() {
                return Err(DecodeError::UnexpectedEnd);
            }
            let token = self.token()?;
            pending = (pending - 1)
                .checked_add(token.children()?)
                .ok_or(DecodeError::UnexpectedEnd)?;
        }
        Ok(())
    }
}
