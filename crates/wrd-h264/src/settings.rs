use std::time::Duration;

/// Which link the defaults are tuned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkProfile {
    /// A local network: bytes are cheap, latency is low; favour quality.
    Lan,
    /// A wide-area link (a few Mbit/s): favour a steady, small stream.
    Wan,
}

/// Which of openh264's analysis modes the encoder runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentMode {
    /// Screen content: hash-based motion search, scroll detection, static-block skipping.
    /// Finds moved text and windows well; its per-frame hashing of the reference picture is
    /// the largest single cost of a full-screen change.
    Screen,
    /// Camera video: a plain diamond motion search, no hashing of the reference picture.
    Camera,
}

/// openh264's trade of encode time for compression (motion search and mode decision effort).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncoderEffort {
    /// Sum-of-differences mode decision, fewer candidate modes: the fastest.
    Low,
    Medium,
}

/// How the encoder trades bytes for quality, and when it sends IDR frames.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSettings {
    /// Target bit rate during motion, in bits per second.
    pub bitrate_bps: u32,
    /// The frame rate the rate control plans for (frames come at most this often).
    pub max_fps: f32,
    /// Quantiser bounds during motion (0 best .. 51 worst). The upper bound caps how blurry a
    /// fast scene may get; the lower bound stops static content from eating the budget.
    pub min_qp: u8,
    pub max_qp: u8,
    /// An IDR at least this often (a decoder that lost its state recovers); `None`: only on
    /// start, resize and request.
    pub idr_interval: Option<Duration>,
    /// Once no damage has arrived for this long after lossy frames, a refinement IDR is
    /// encoded at `refine_qp` (no rate control) so text becomes sharp. `None` disables it.
    pub refine_after: Option<Duration>,
    /// The quantiser of the refinement frame: lower is sharper and larger.
    pub refine_qp: u8,
    /// Camera by default: it halves the time of a full-screen change (1080p animation 30 → 15
    /// ms CPU per frame, typing 16 → 6 ms, BENCHMARKS.md) at the same bytes and PSNR for
    /// motion; a typed character costs about 50 % more bytes, still far below the budget.
    /// The price is scrolling: camera mode has no scroll detection, so a terminal scrolling a
    /// line every 20 ms costs 236-380 KiB/s instead of about 35 (up to ~3 Mbit/s, under the
    /// animation's budget; BENCHMARKS.md). `Screen` is the choice for scroll-heavy use on a
    /// thin link.
    pub content: ContentMode,
    /// Low by default: the same bytes and PSNR as medium on desktop content, 10-25 % faster.
    pub effort: EncoderEffort,
    /// openh264's scene-change detection (a full-picture analysis before every frame) that
    /// turns a changed screen into an IDR. Off by default: we send IDRs ourselves when they are
    /// due, a changed screen codes as well as intra blocks of a P frame, and the analysis runs
    /// on one thread before the slice threads start, so it adds to every frame's latency
    /// (5 % of the encode's wall time with 2 threads, BENCHMARKS.md).
    pub scene_change_detection: bool,
    /// Encoder threads for one stream (openh264 splits the picture into this many slices);
    /// 1 keeps a session on one core.
    pub threads: u16,
    /// H.264's in-loop deblocking filter: smooths block edges in lossy frames, at a cost in
    /// encode and decode time (with several threads openh264 filters inside each slice only).
    /// At the LAN's bit rate the quantiser stays low enough that it buys 0.1 dB on full-screen
    /// 1080p motion for 8-10 % of the encode time, so the LAN profile leaves it off; at a third
    /// of that rate it is worth 0.4 dB, so the WAN profile keeps it (BENCHMARKS.md). Refinement
    /// frames are sharp either way.
    pub deblocking: bool,
}

impl EncoderSettings {
    pub fn for_profile(profile: NetworkProfile) -> Self {
        match profile {
            // 5.5 Mbit/s planned for 60 fps, about 92 kbit a frame (openh264 budgets per frame,
            // so fewer frames cost less): 1080p full-screen motion at 34.8 dB mean, against
            // 35.9 at 12 Mbit/s, and 20 % less encode time. openh264 overshoots its plan by up
            // to 3 %, so a plan of 6 sent 5.95-6.15 Mbit/s at 60 fps; 5.5 keeps full-motion
            // 1080p under 6 for 0.1 dB (BENCHMARKS.md, wrd-h264-bench). After motion the
            // refinement makes text sharp again: a full screen of small text is about 1 MB
            // at QP 10 (≥ 45 dB), once.
            NetworkProfile::Lan => Self {
                bitrate_bps: 5_500_000,
                max_fps: 60.0,
                min_qp: 10,
                max_qp: 40,
                idr_interval: Some(Duration::from_secs(60)),
                refine_after: Some(Duration::from_millis(300)),
                refine_qp: 10,
                content: ContentMode::Camera,
                effort: EncoderEffort::Low,
                scene_change_detection: false,
                threads: 1,
                deblocking: false,
            },
            // A 5 Mbit/s link: motion at 2 Mbit/s (30 fps, 67 kbit a frame: two thirds of the
            // LAN's), a coarser ceiling on quality, a smaller refinement after a longer quiet
            // period.
            NetworkProfile::Wan => Self {
                bitrate_bps: 2_000_000,
                max_fps: 30.0,
                min_qp: 16,
                max_qp: 45,
                idr_interval: Some(Duration::from_secs(120)),
                refine_after: Some(Duration::from_millis(400)),
                refine_qp: 16,
                content: ContentMode::Camera,
                effort: EncoderEffort::Low,
                scene_change_detection: false,
                threads: 1,
                deblocking: true,
            },
        }
    }
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self::for_profile(NetworkProfile::Lan)
    }
}
