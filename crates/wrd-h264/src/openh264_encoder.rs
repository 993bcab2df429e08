//! openh264's encoder through its C interface, initialised with our whole parameter block.
//!
//! The `openh264` crate's encoder initialises itself on the first frame at a size with a
//! block of its own (one slice, the deblocking filter on), which can only be changed after that
//! frame was coded; a change of slices then resets openh264 into a second IDR, and a change of
//! the filter alone is not applied at all (openh264 resets, and rereads it, only for some
//! fields). So the encoder is driven here directly: [`Openh264Encoder::configure`] gives the
//! full block before the first frame at each size, and every frame is coded the way it says.
//! The crate still provides the decoder and the linked library.

use std::os::raw::{c_int, c_void};

use openh264_sys2::{
    ENCODER_OPTION, ENCODER_OPTION_RC_MODE, ENCODER_OPTION_SVC_ENCODE_PARAM_EXT, ENCODER_OPTION_TRACE_LEVEL,
    ISVCEncoder, RC_MODES, SEncParamExt, SFrameBSInfo, SSourcePicture, WELS_LOG_ERROR, videoFormatI420,
    videoFrameTypeI, videoFrameTypeIDR, videoFrameTypeSkip,
};

use crate::H264Error;
use crate::convert::I420Picture;

/// What openh264 made of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodedAs {
    /// An IDR or I frame: decodable on its own.
    Intra,
    Predicted,
    /// Nothing was coded (no bytes).
    Skipped,
}

/// One openh264 encoder instance. Not shared: every call takes `&mut self`.
pub(crate) struct Openh264Encoder {
    /// Valid from creation to drop (`WelsCreateSVCEncoder` succeeded).
    encoder: *mut ISVCEncoder,
    initialised: bool,
    /// Where openh264 describes the coded frame; its NAL pointers point into openh264's own
    /// buffers, valid until the next encode. Boxed: 128 layer records.
    info: Box<SFrameBSInfo>,
}

// SAFETY: an openh264 encoder instance keeps no thread-local state and is used from one thread
// at a time (every method takes `&mut self`); it moves to the encoder thread once.
unsafe impl Send for Openh264Encoder {}

impl Openh264Encoder {
    pub(crate) fn new() -> Result<Self, H264Error> {
        let mut encoder: *mut ISVCEncoder = std::ptr::null_mut();
        // SAFETY: WelsCreateSVCEncoder writes an encoder pointer to the location we pass.
        let status = unsafe { openh264_sys2::source::APILoader::WelsCreateSVCEncoder(&raw mut encoder) };
        check(status, "encoder creation")?;
        if encoder.is_null() {
            return Err(H264Error::OpenH264Status {
                operation: "encoder creation",
                status: -1,
            });
        }
        let mut this = Self {
            encoder,
            initialised: false,
            info: Box::default(),
        };
        // Errors only on stderr. Its warnings say what our parameters mean (no frame skipping,
        // so the bit rate is a target), once per size.
        let mut level: c_int = WELS_LOG_ERROR;
        this.set_option(ENCODER_OPTION_TRACE_LEVEL, &mut level, "trace level")?;
        Ok(this)
    }

    /// openh264's defaults, to start a parameter block from.
    pub(crate) fn default_params(&mut self) -> Result<SEncParamExt, H264Error> {
        let mut params = SEncParamExt::default();
        // SAFETY: the encoder is valid; GetDefaultParams fills the block we pass during the call.
        let status =
            unsafe { (self.vtable().GetDefaultParams.ok_or(MISSING)?)(self.encoder, &raw mut params) };
        check(status, "default parameters")?;
        Ok(params)
    }

    /// Codes the following frames with `params`: initialises openh264 the first time; later
    /// blocks replace the running one (openh264 resets itself, into an IDR, when the size,
    /// the slices or similar change).
    pub(crate) fn configure(&mut self, params: &mut SEncParamExt) -> Result<(), H264Error> {
        if self.initialised {
            return self.set_option(
                ENCODER_OPTION_SVC_ENCODE_PARAM_EXT,
                params,
                "set encoder parameters",
            );
        }
        // SAFETY: the encoder is valid; InitializeExt reads the block during the call.
        let status =
            unsafe { (self.vtable().InitializeExt.ok_or(MISSING)?)(self.encoder, &raw const *params) };
        check(status, "encoder initialisation")?;
        self.initialised = true;
        Ok(())
    }

    /// Switches the rate control (off for a refinement at a fixed quantiser, then back).
    pub(crate) fn set_rc_mode(
        &mut self,
        mut mode: RC_MODES,
        operation: &'static str,
    ) -> Result<(), H264Error> {
        self.set_option(ENCODER_OPTION_RC_MODE, &mut mode, operation)
    }

    /// The next frame is an IDR.
    pub(crate) fn force_idr(&mut self) -> Result<(), H264Error> {
        // SAFETY: the encoder is valid; ForceIntraFrame takes a flag.
        let status = unsafe { (self.vtable().ForceIntraFrame.ok_or(MISSING)?)(self.encoder, true) };
        check(status, "IDR request")
    }

    /// Codes `picture` (configured before, at its size) and appends its Annex-B NAL units to
    /// `out`.
    pub(crate) fn encode(
        &mut self,
        picture: &I420Picture,
        timestamp_ms: i64,
        out: &mut Vec<u8>,
    ) -> Result<CodedAs, H264Error> {
        if !self.initialised {
            return Err(H264Error::OpenH264Status {
                operation: "encode before the encoder was configured",
                status: -1,
            });
        }
        let (width, height) = picture.size();
        let (y, u, v) = picture.planes();
        let to_int = |n: usize| c_int::try_from(n).map_err(|_| H264Error::Convert(format!("{n}: too large")));
        let source = SSourcePicture {
            iColorFormat: videoFormatI420 as c_int,
            iStride: [to_int(width)?, to_int(width / 2)?, to_int(width / 2)?, 0],
            // openh264 only reads the source picture (the API is not const-correct).
            pData: [
                y.as_ptr().cast_mut(),
                u.as_ptr().cast_mut(),
                v.as_ptr().cast_mut(),
                std::ptr::null_mut(),
            ],
            iPicWidth: to_int(width)?,
            iPicHeight: to_int(height)?,
            uiTimeStamp: timestamp_ms,
            bPsnrY: false,
            bPsnrU: false,
            bPsnrV: false,
        };
        // SAFETY: the encoder is valid and initialised at this size; the planes live for the
        // call and hold `stride * rows` bytes each (I420Picture's invariant); openh264 writes
        // the frame's description into `info`.
        let status = unsafe {
            (self.vtable().EncodeFrame.ok_or(MISSING)?)(self.encoder, &raw const source, &raw mut *self.info)
        };
        check(status, "encode")?;
        let layers = usize::try_from(self.info.iLayerNum).unwrap_or(0);
        for layer in self.info.sLayerInfo.iter().take(layers) {
            let nals = usize::try_from(layer.iNalCount).unwrap_or(0);
            let mut total = 0usize;
            for i in 0..nals {
                // SAFETY: openh264 gives `iNalCount` lengths at pNalLengthInByte.
                let len = unsafe { *layer.pNalLengthInByte.add(i) };
                total += usize::try_from(len).unwrap_or(0);
            }
            if total > 0 {
                // SAFETY: the layer's NAL units lie back to back at pBsBuf, `total` bytes in
                // all, valid until the next encode.
                out.extend_from_slice(unsafe { std::slice::from_raw_parts(layer.pBsBuf, total) });
            }
        }
        Ok(match self.info.eFrameType {
            _ if out.is_empty() => CodedAs::Skipped,
            t if t == videoFrameTypeIDR || t == videoFrameTypeI => CodedAs::Intra,
            t if t == videoFrameTypeSkip => CodedAs::Skipped,
            _ => CodedAs::Predicted,
        })
    }

    fn set_option<T>(
        &mut self,
        option: ENCODER_OPTION,
        value: &mut T,
        operation: &'static str,
    ) -> Result<(), H264Error> {
        // SAFETY: the encoder is valid; each option reads (or writes) one value of the type
        // openh264 documents for it, which the callers pass, during the call only.
        let status = unsafe {
            (self.vtable().SetOption.ok_or(MISSING)?)(
                self.encoder,
                option,
                std::ptr::from_mut(value).cast::<c_void>(),
            )
        };
        check(status, operation)
    }

    fn vtable(&self) -> &openh264_sys2::ISVCEncoderVtbl {
        // SAFETY: `encoder` points to openh264's object, whose first field is its vtable
        // pointer, both valid until drop.
        unsafe { &**self.encoder }
    }
}

impl Drop for Openh264Encoder {
    fn drop(&mut self) {
        // SAFETY: the encoder is valid; Uninitialize is harmless on one never initialised, and
        // nothing uses the pointer after WelsDestroySVCEncoder.
        unsafe {
            if let Some(uninitialize) = self.vtable().Uninitialize {
                uninitialize(self.encoder);
            }
            openh264_sys2::source::APILoader::WelsDestroySVCEncoder(self.encoder);
        }
    }
}

/// A vtable entry openh264 left empty (it fills them all).
const MISSING: H264Error = H264Error::OpenH264Status {
    operation: "a missing encoder function",
    status: -1,
};

fn check(status: c_int, operation: &'static str) -> Result<(), H264Error> {
    if status != 0 {
        return Err(H264Error::OpenH264Status { operation, status });
    }
    Ok(())
}
