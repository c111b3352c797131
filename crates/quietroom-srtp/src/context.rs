//! One direction of SRTP/SRTCP: placeholder, replaced by the real context.
#![allow(missing_docs, unused_variables)]
use crate::{Error, MasterKey, Profile, SrtpConfig};

#[derive(Debug)]
pub struct SrtpContext { profile: Profile }
impl SrtpContext {
    pub fn new(key: &MasterKey, config: &SrtpConfig) -> Self { SrtpContext { profile: key.profile() } }
    pub fn profile(&self) -> Profile { self.profile }
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> { Err(Error::AuthenticationFailed) }
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error> { Err(Error::AuthenticationFailed) }
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> { Err(Error::AuthenticationFailed) }
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error> { Err(Error::AuthenticationFailed) }
}
