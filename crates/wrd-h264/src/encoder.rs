use std::time::{Duration, Instant};

use openh264_sys2::{RC_BITRATE_MODE, RC_OFF_MODE};
use wrd_frame::{Frame, Rect};

use crate::convert::{I420Picture, check_frame};
use crate::openh264_encoder::{CodedAs, Openh264Encoder};
use crate::regions::align_to_macroblocks;
use crate::{ContentMode, EncoderEffort, EncoderSettings, H264Error};

/// What an encoded frame is to the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Decodable on its own: the first frame, a resize, a request, the periodic one.
    Idr,
    /// Depends on the frames before it; carries only the damaged macroblocks' changes.
    Predicted,
    /// An IDR at a high bit rate after motion stopped: the sharp picture of the same content.
    Refinement,
}

/// One H.264 access unit and what it changes on the client's picture.
#[derive(Debug, Clone)]
pub struct EncodedFrame {
    /// Annex-B NAL units (with SPS/PPS before every IDR).
    pub data: Vec<u8>,
    pub kind: FrameKind,
    /// The picture size (the frame's; H.264 may code one more padding row or column).
    pub width: u16,
    pub height: u16,
    /// The macroblock-aligned areas the client must update from the decoded picture (the whole
    /// picture for an IDR or a refinement).
    pub regions: Vec<Rect>,
    /// The source frame's sequence number and capture time.
    pub source_seq: u64,
    pub captured_at: Instant,
    /// Time spent converting and encoding this frame.
    pub encode_time: Duration,
    /// When the encoder finished it (with `captured_at` and `encode_time`: how long the frame
    /// waited before its encode began, and after it).
    pub encoded_at: Instant,
}

impl EncodedFrame {
    pub fn is_keyframe(&self) -> bool {
        matches!(self.kind, FrameKind::Idr | FrameKind::Refinement)
    }
}

/// A synchronous H.264 encoder for one client's stream. See [`crate::EncoderThread`] for the
/// threaded, latest-frame-wins front.
pub struct H264Encoder {
    settings: EncoderSettings,
    encoder: Openh264Encoder,
    picture: Option<I420Picture>,
    size: (u16, u16),
    /// The frame the picture currently holds (a refinement re-encodes it).
    last_source: Option<(u64, Instant)>,
    started: Instant,
    last_idr: Option<Instant>,
    idr_requested: bool,
    /// Lossy frames went out since the last keyframe at refinement quality.
    needs_refinement: bool,
    /// Damage of a frame the encoder produced nothing for, carried into the next one.
    carried: Vec<Rect>,
    /// The picture size openh264 was last configured for.
    params_set_for: Option<(u16, u16)>,
}

impl std::fmt::Debug for H264Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H264Encoder")
            .field("settings", &self.settings)
            .field("size", &self.size)
            .field("last_idr", &self.last_idr)
            .field("needs_refinement", &self.needs_refinement)
            .finish_non_exhaustive()
    }
}

impl H264Encoder {
    pub fn new(settings: EncoderSettings) -> Result<Self, H264Error> {
        let encoder = Openh264Encoder::new()?;
        Ok(Self {
            settings,
            encoder,
            picture: None,
            size: (0, 0),
            last_source: None,
            started: Instant::now(),
            last_idr: None,
            idr_requested: false,
            needs_refinement: false,
            carried: Vec::new(),
            params_set_for: None,
        })
    }

    pub fn settings(&self) -> &EncoderSettings {
        &self.settings
    }

    /// The next frame will be an IDR (a client asked, or lost its decoder state).
    pub fn request_idr(&mut self) {
        self.idr_requested = true;
    }

    /// Whether lossy frames went out since the last sharp keyframe.
    pub fn needs_refinement(&self) -> bool {
        self.needs_refinement && self.picture.is_some()
    }

    /// Encodes `frame`, of which `damage` changed since the previous call (empty: everything).
    /// `None` when nothing changed and no IDR is due.
    pub fn encode(&mut self, frame: &Frame, damage: &[Rect]) -> Result<Option<EncodedFrame>, H264Error> {
        let start = Instant::now();
        check_frame(frame)?;
        let resized = self.size != (frame.width, frame.height) || self.picture.is_none();
        if resized {
            self.picture = Some(I420Picture::new(frame.width, frame.height));
            self.size = (frame.width, frame.height);
            self.carried.clear();
        }
        let periodic = match (self.settings.idr_interval, self.last_idr) {
            (Some(interval), Some(last)) => start.duration_since(last) >= interval,
            _ => false,
        };
        let idr = resized || self.idr_requested || periodic;

        let mut damage_now = std::mem::take(&mut self.carried);
        damage_now.extend_from_slice(damage);
        let changed = if resized || damage.is_empty() {
            align_to_macroblocks(&[], frame.width, frame.height)
        } else {
            align_to_macroblocks(&damage_now, frame.width, frame.height)
        };
        if changed.is_empty() && !idr {
            return Ok(None);
        }
        let timestamp = self.timestamp(start);
        let Some(picture) = self.picture.as_mut() else {
            return Err(H264Error::Convert("no picture after allocation".to_owned()));
        };
        for region in &changed {
            picture.convert_region(frame, *region)?;
        }
        self.last_source = Some((frame.seq, frame.captured_at));

        // A new size: openh264 is configured for it before its first frame, which is an IDR.
        if self.params_set_for != Some(self.size) {
            configure(&mut self.encoder, &self.settings, self.size)?;
            self.params_set_for = Some(self.size);
        }
        if idr {
            self.encoder.force_idr()?;
        }
        let mut data = Vec::new();
        let coded = self.encoder.encode(picture, timestamp, &mut data)?;
        if coded == CodedAs::Skipped {
            // Nothing went out: the client's picture still lacks these changes.
            self.carried = changed;
            return Ok(None);
        }
        let is_idr = coded == CodedAs::Intra;
        if is_idr {
            self.last_idr = Some(start);
            self.idr_requested = false;
        }
        self.needs_refinement = true;
        let regions = if is_idr {
            align_to_macroblocks(&[], frame.width, frame.height)
        } else {
            changed
        };
        Ok(Some(EncodedFrame {
            data,
            kind: if is_idr {
                FrameKind::Idr
            } else {
                FrameKind::Predicted
            },
            width: frame.width,
            height: frame.height,
            regions,
            source_seq: frame.seq,
            captured_at: frame.captured_at,
            encode_time: start.elapsed(),
            encoded_at: Instant::now(),
        }))
    }

    /// Re-encodes the current picture as an IDR at the refinement quantiser, so that what stays
    /// on screen is sharp. `None` if nothing lossy went out since the last refinement.
    pub fn refine(&mut self) -> Result<Option<EncodedFrame>, H264Error> {
        if !self.needs_refinement() {
            return Ok(None);
        }
        let Some((source_seq, captured_at)) = self.last_source else {
            return Ok(None);
        };
        let start = Instant::now();
        let timestamp = self.timestamp(start);
        // One frame without rate control at the refinement quantiser (the block's layer QP),
        // then back to the bit rate: the rate control keeps its state across the switch.
        let Some(picture) = self.picture.as_ref() else {
            return Err(H264Error::Convert("refinement without a picture".to_owned()));
        };
        self.encoder
            .set_rc_mode(RC_OFF_MODE, "refinement rate control off")?;
        let mut data = Vec::new();
        let coded = self
            .encoder
            .force_idr()
            .and_then(|()| self.encoder.encode(picture, timestamp, &mut data));
        self.encoder
            .set_rc_mode(RC_BITRATE_MODE, "rate control back on")?;
        if coded? == CodedAs::Skipped {
            return Ok(None);
        }
        self.last_idr = Some(start);
        self.idr_requested = false;
        self.needs_refinement = false;
        let (width, height) = self.size;
        Ok(Some(EncodedFrame {
            data,
            kind: FrameKind::Refinement,
            width,
            height,
            regions: align_to_macroblocks(&[], width, height),
            source_seq,
            captured_at,
            encode_time: start.elapsed(),
            encoded_at: Instant::now(),
        }))
    }

    /// Milliseconds since the encoder started (openh264's rate control reads frame times).
    fn timestamp(&self, now: Instant) -> i64 {
        let millis = now.duration_since(self.started).as_millis();
        i64::try_from(millis).unwrap_or(i64::MAX)
    }
}

/// Configures openh264 for pictures of `size` (made even, as the I420 picture is): the whole
/// parameter block, from openh264's defaults.
fn configure(
    encoder: &mut Openh264Encoder,
    settings: &EncoderSettings,
    size: (u16, u16),
) -> Result<(), H264Error> {
    let (width, height) = (
        i32::from(size.0.next_multiple_of(2)),
        i32::from(size.1.next_multiple_of(2)),
    );
    let mut params = encoder.default_params()?;
    let bitrate = i32::try_from(settings.bitrate_bps).unwrap_or(i32::MAX);
    params.iPicWidth = width;
    params.iPicHeight = height;
    params.iRCMode = RC_BITRATE_MODE;
    params.bEnableFrameSkip = false;
    params.iTargetBitrate = bitrate;
    params.bEnableDenoise = false;
    params.fMaxFrameRate = settings.max_fps;
    params.eSpsPpsIdStrategy = openh264_sys2::CONSTANT_ID;
    params.iMultipleThreadIdc = settings.threads.max(1);
    params.iUsageType = match settings.content {
        ContentMode::Screen => openh264_sys2::SCREEN_CONTENT_REAL_TIME,
        ContentMode::Camera => openh264_sys2::CAMERA_VIDEO_REAL_TIME,
    };
    params.bEnableSceneChangeDetect = settings.scene_change_detection;
    // openh264 turns both off for screen content anyway; saying so keeps it from warning.
    params.bEnableAdaptiveQuant = false;
    params.bEnableBackgroundDetection = false;
    params.bEnableLongTermReference = false;
    params.iComplexityMode = match settings.effort {
        EncoderEffort::Low => openh264_sys2::LOW_COMPLEXITY,
        EncoderEffort::Medium => openh264_sys2::MEDIUM_COMPLEXITY,
    };
    params.uiIntraPeriod = 0;
    // 0: on, 1: off (openh264 turns 0 into 2, "not across slice edges", for several threads).
    params.iLoopFilterDisableIdc = if settings.deblocking {
        openh264_sys2::DEBLOCKING_IDC_0
    } else {
        1
    };
    params.iMinQp = i32::from(settings.min_qp);
    params.iMaxQp = i32::from(settings.max_qp);
    params.iSpatialLayerNum = 1;
    params.iTemporalLayerNum = 1;
    params.iLtrMarkPeriod = 30;
    let layer = &mut params.sSpatialLayers[0];
    layer.bVideoSignalTypePresent = true;
    layer.bColorDescriptionPresent = true;
    layer.bFullRange = true;
    layer.uiColorPrimaries = 1; // BT.709
    layer.uiTransferCharacteristics = 1;
    layer.uiColorMatrix = 1;
    layer.iMaxSpatialBitrate = bitrate;
    layer.iSpatialBitrate = bitrate;
    layer.fFrameRate = settings.max_fps;
    layer.iVideoWidth = width;
    layer.iVideoHeight = height;
    if settings.threads > 1 {
        layer.sSliceArgument.uiSliceMode = openh264_sys2::SM_FIXEDSLCNUM_SLICE;
        layer.sSliceArgument.uiSliceNum = u32::from(settings.threads);
    } else {
        layer.sSliceArgument.uiSliceMode = openh264_sys2::SM_SINGLE_SLICE;
        layer.sSliceArgument.uiSliceNum = 1;
    }
    // What openh264 codes every frame at without rate control: the refinement's quantiser.
    layer.iDLayerQp = i32::from(settings.refine_qp);
    encoder.configure(&mut params)
}
