use std::os::raw::c_void;
use std::time::{Duration, Instant};

use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, QpRange,
    RateControlMode, UsageType, VuiConfig,
};
use openh264::{OpenH264API, Timestamp};
use openh264_sys2::{
    ENCODER_OPTION_RC_MODE, ENCODER_OPTION_SVC_ENCODE_PARAM_EXT, RC_BITRATE_MODE, RC_MODES, RC_OFF_MODE,
    SEncParamExt,
};
use wrd_frame::{Frame, Rect};

use crate::convert::{I420Picture, check_frame};
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
    encoder: Encoder,
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
    /// The picture size our full parameter block (the refinement quantiser, the slices for
    /// several threads) was last given to openh264 for: the openh264 crate rebuilds its own
    /// block when the size changes, which has neither.
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
        let config = EncoderConfig::new()
            .usage_type(match settings.content {
                ContentMode::Screen => UsageType::ScreenContentRealTime,
                ContentMode::Camera => UsageType::CameraVideoRealTime,
            })
            .complexity(match settings.effort {
                EncoderEffort::Low => Complexity::Low,
                EncoderEffort::Medium => Complexity::Medium,
            })
            .scene_change_detect(settings.scene_change_detection)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(settings.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(settings.max_fps))
            // Every frame we submit carries changes the client must see: never skipped.
            .skip_frames(false)
            .qp(QpRange::new(settings.min_qp, settings.max_qp))
            .num_threads(settings.threads.max(1))
            // Camera-content tools that cost time and buy nothing on a desktop (openh264 turns
            // them off for screen content anyway).
            .adaptive_quantization(false)
            .background_detection(false)
            // Periodic IDRs are timed by us (frames come irregularly from a desktop).
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            .vui(VuiConfig::bt709_full());
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config).map_err(|source| {
            H264Error::OpenH264 {
                operation: "encoder creation",
                source,
            }
        })?;
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

        if idr {
            self.encoder.force_intra_frame();
        }
        let bitstream =
            self.encoder
                .encode_at(&*picture, timestamp)
                .map_err(|source| H264Error::OpenH264 {
                    operation: "encode",
                    source,
                })?;
        let frame_type = bitstream.frame_type();
        let data = bitstream.to_vec();
        if self.settings.threads > 1 {
            // The openh264 crate initialised the encoder for this size with one slice, which
            // one thread codes: our block splits the picture into a slice per thread (openh264
            // resets itself for it; its next frame is an IDR, which the type below reports).
            self.apply_params()?;
        }
        if data.is_empty() || matches!(frame_type, FrameType::Skip) {
            // Nothing went out: the client's picture still lacks these changes.
            self.carried = changed;
            return Ok(None);
        }
        let is_idr = matches!(frame_type, FrameType::IDR | FrameType::I);
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
        // One frame without rate control at the refinement quantiser, then back to the bit
        // rate: the rate control keeps its state across the switch.
        self.apply_params()?;
        let Some(picture) = self.picture.as_ref() else {
            return Err(H264Error::Convert("refinement without a picture".to_owned()));
        };
        set_rc_mode(&mut self.encoder, RC_OFF_MODE, "refinement rate control off")?;
        self.encoder.force_intra_frame();
        let encoded = self
            .encoder
            .encode_at(picture, timestamp)
            .map(|bitstream| bitstream.to_vec())
            .map_err(|source| H264Error::OpenH264 {
                operation: "refinement encode",
                source,
            });
        let data = encoded?;
        set_rc_mode(&mut self.encoder, RC_BITRATE_MODE, "rate control back on")?;
        if data.is_empty() {
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

    /// Gives openh264 our full parameter block for the current size, once per size.
    fn apply_params(&mut self) -> Result<(), H264Error> {
        if self.params_set_for == Some(self.size) {
            return Ok(());
        }
        let size = (
            i32::from(self.size.0.next_multiple_of(2)),
            i32::from(self.size.1.next_multiple_of(2)),
        );
        set_params(&mut self.encoder, &self.settings, size)?;
        self.params_set_for = Some(self.size);
        Ok(())
    }

    fn timestamp(&self, now: Instant) -> Timestamp {
        let millis = now.duration_since(self.started).as_millis();
        Timestamp::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
    }
}

fn set_rc_mode(encoder: &mut Encoder, mut mode: RC_MODES, operation: &'static str) -> Result<(), H264Error> {
    // SAFETY: the encoder is initialised (refinement follows at least one encode);
    // ENCODER_OPTION_RC_MODE reads one RC_MODES (a C int) during the call only.
    let status = unsafe {
        encoder
            .raw_api()
            .set_option(ENCODER_OPTION_RC_MODE, (&raw mut mode).cast::<c_void>())
    };
    check(status, operation)
}

/// The full parameter block, rebuilt the way the openh264 crate builds it (the same fields, so
/// with one thread nothing that would reset the encoder changes) with two additions the crate
/// has no setting for: the layer's quantiser (`iDLayerQp`, what openh264 codes every frame at
/// without rate control: the refinement's) and, for several threads, a slice per thread.
fn set_params(
    encoder: &mut Encoder,
    settings: &EncoderSettings,
    (width, height): (i32, i32),
) -> Result<(), H264Error> {
    let mut params = SEncParamExt::default();
    // SAFETY: GetDefaultParams fills the SEncParamExt we pass during the call.
    let status = unsafe { encoder.raw_api().get_default_params(&raw mut params) };
    check(status, "default parameters")?;
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
    params.iLoopFilterDisableIdc = openh264_sys2::DEBLOCKING_IDC_0;
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
    layer.iDLayerQp = i32::from(settings.refine_qp);
    // SAFETY: SetOption(ENCODER_OPTION_SVC_ENCODE_PARAM_EXT) copies the SEncParamExt we pass
    // during the call; the encoder is initialised (refinement follows an encode).
    let status = unsafe {
        encoder.raw_api().set_option(
            ENCODER_OPTION_SVC_ENCODE_PARAM_EXT,
            (&raw mut params).cast::<c_void>(),
        )
    };
    check(status, "set encoder parameters")
}

fn check(status: i32, operation: &'static str) -> Result<(), H264Error> {
    if status != 0 {
        return Err(H264Error::OpenH264Status { operation, status });
    }
    Ok(())
}
