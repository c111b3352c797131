//! RFC 8285 header-extension elements: iteration and in-place rewriting of a value.

use core::iter::FusedIterator;

use quietroom_wire::Reader;

use super::header::{ExtensionBlock, RtpHeader};
use crate::RouterError;

/// What errors from this module name.
const WHAT: &str = "RTP header extension";

/// Profile of the RFC 8285 one-byte form.
const ONE_BYTE_PROFILE: u16 = 0xBEDE;

/// The RFC 8285 element forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// `0xBEDE`: 4-bit id, 4-bit length − 1.
    OneByte,
    /// `0x1000`–`0x100F`: 8-bit id, 8-bit length.
    TwoByte,
}

impl Form {
    fn of(profile: u16) -> Option<Form> {
        match profile {
            ONE_BYTE_PROFILE => Some(Form::OneByte),
            0x1000..=0x100F => Some(Form::TwoByte),
            _ => None,
        }
    }
}

/// Iterator over a packet's RFC 8285 header-extension elements as `(id, value)`, from
/// [`RtpHeader::extensions`]. Allocates nothing; a malformed element ends it.
#[derive(Clone, Debug)]
pub struct Extensions<'a> {
    reader: Reader<'a>,
    /// `None` once finished, or for a block that is not RFC 8285.
    form: Option<Form>,
}

impl<'a> Extensions<'a> {
    /// Elements of `block` in `packet` (none if `block` is absent or outside `packet`).
    pub(super) fn new(packet: &'a [u8], block: Option<ExtensionBlock>) -> Self {
        let elements = block.and_then(|b| {
            let bytes = packet.get(b.start..)?.get(..b.len)?;
            Some((bytes, Form::of(b.profile)?))
        });
        match elements {
            Some((bytes, form)) => Extensions {
                reader: Reader::new(bytes, WHAT),
                form: Some(form),
            },
            None => Extensions {
                reader: Reader::new(&[], WHAT),
                form: None,
            },
        }
    }

    /// The next element as (id, offset of the value within the block, value).
    fn next_element(&mut self) -> Option<(u8, usize, &'a [u8])> {
        let form = self.form?;
        let element = loop {
            let Ok(first) = self.reader.u8() else {
                break None;
            };
            let (id, len) = match form {
                Form::OneByte => {
                    let id = first >> 4;
                    if id == 0 {
                        // Padding (libwebrtc also skips a zero id whatever its length bits).
                        continue;
                    }
                    if id == 15 {
                        // Reserved: "processing of the entire extension MUST terminate".
                        break None;
                    }
                    (id, usize::from(first & 0x0F) + 1)
                }
                Form::TwoByte => {
                    if first == 0 {
                        continue;
                    }
                    let Ok(len) = self.reader.u8() else {
                        break None;
                    };
                    (first, usize::from(len))
                }
            };
            let offset = self.reader.pos();
            match self.reader.take(len) {
                Ok(value) => break Some((id, offset, value)),
                Err(_) => break None,
            }
        };
        if element.is_none() {
            self.form = None;
        }
        element
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        self.next_element().map(|(id, _, value)| (id, value))
    }
}

impl FusedIterator for Extensions<'_> {}

/// Rewrites the value of header-extension element `id` in place (same length only), e.g. the
/// transport-wide sequence number per subscriber. `header` must be the result of parsing
/// `packet`.
///
/// # Errors
///
/// [`RouterError::Truncated`] if `packet` is too short for `header`'s extension block;
/// [`RouterError::Malformed`] if the packet has no element `id` or its value's length is not
/// `value.len()`.
pub fn set_extension(
    packet: &mut [u8],
    header: &RtpHeader,
    id: u8,
    value: &[u8],
) -> Result<(), RouterError> {
    let Some(block) = header.extensions else {
        return Err(RouterError::Malformed {
            what: WHAT,
            reason: "packet has no header extensions",
        });
    };
    let end = block.start.saturating_add(block.len);
    if end > packet.len() {
        return Err(RouterError::Truncated {
            what: WHAT,
            need: end,
            have: packet.len(),
        });
    }
    let mut elements = Extensions::new(packet, Some(block));
    let found = loop {
        match elements.next_element() {
            Some((i, offset, old)) if i == id && id != 0 => break Some((offset, old.len())),
            Some(_) => {}
            None => break None,
        }
    };
    let Some((offset, len)) = found else {
        return Err(RouterError::Malformed {
            what: WHAT,
            reason: "no element with this id",
        });
    };
    if len != value.len() {
        return Err(RouterError::Malformed {
            what: WHAT,
            reason: "new value's length differs from the element's",
        });
    }
    let at = block.start.saturating_add(offset);
    match packet.get_mut(at..).and_then(|rest| rest.get_mut(..len)) {
        Some(dst) => {
            dst.copy_from_slice(value);
            Ok(())
        }
        None => Err(RouterError::Truncated {
            what: WHAT,
            need: at.saturating_add(len),
            have: packet.len(),
        }),
    }
}
