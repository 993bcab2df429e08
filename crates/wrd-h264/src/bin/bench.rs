//! `wrd-h264-bench`: encode time per frame at a given size for two kinds of content, printed
//! as text (BENCHMARKS.md records its output).
//!
//! - `animation`: wrd-scene's full-screen animation (every pixel changes every frame);
//! - `typing`: a terminal of text, refined once, then one new character per frame.
//!
//! Usage: `wrd-h264-bench [WIDTHxHEIGHT] [FRAMES]` (default 1920x1080, 300 frames).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wrd_frame::{Frame, PixelFormat};
use wrd_h264::synthetic::Terminal;
use wrd_h264::{EncoderSettings, H264Decoder, H264Encoder, H264Error, psnr_bgrx};
use wrd_scene::picture::Painter;

/// The frame rate the bit rate is quoted at (the encoder plans for it too).
const FPS: f64 = 60.0;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let size = args.first().map_or(Some((1920, 1080)), |arg| parse_size(arg));
    let frames = args.get(1).map_or(Some(300), |arg| arg.parse::<u32>().ok());
    let (Some((width, height)), Some(frames)) = (size, frames) else {
        eprintln!("usage: wrd-h264-bench [WIDTHxHEIGHT] [FRAMES]");
        return ExitCode::from(2);
    };
    println!("wrd-h264-bench {width}x{height}, {frames} frames per scene, LAN settings, one encoder thread");
    for (name, result) in [
        ("animation", animation(width, height, frames)),
        ("typing", typing(width, height, frames)),
    ] {
        match result {
            Ok(mut report) => report.print(name),
            Err(err) => {
                eprintln!("{name}: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn parse_size(arg: &str) -> Option<(u16, u16)> {
    let (w, h) = arg.split_once('x')?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

struct Report {
    first_idr: Duration,
    times: Vec<Duration>,
    /// CPU time of this thread per frame: what a frame costs on one core, whatever else
    /// the machine is doing (wall times on a shared machine include waiting for a core).
    cpu_times: Vec<Duration>,
    bytes: Vec<usize>,
    psnr_min: f64,
    refine: Option<(Duration, usize)>,
}

impl Report {
    // Byte and frame counts of a benchmark run are far below 2^52: the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    fn print(&mut self, name: &str) {
        self.times.sort();
        self.cpu_times.sort();
        let pick = |times: &[Duration], q: f64| {
            // Index into a sorted list of at most a few thousand frames.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = ((times.len() - 1) as f64 * q).round() as usize;
            times[i]
        };
        let total: usize = self.bytes.iter().sum();
        let per_frame = total as f64 / self.bytes.len() as f64;
        let mbit = total as f64 * 8.0 / self.bytes.len() as f64 * FPS / 1e6;
        println!(
            "{name}: first IDR {:.1} ms; per frame CPU median {:.2} ms, p99 {:.2} ms \
             (wall median {:.2} ms, p99 {:.2} ms, max {:.2} ms); \
             {:.0} bytes/frame = {mbit:.2} Mbit/s at {FPS} fps; worst PSNR {:.1} dB",
            ms(self.first_idr),
            ms(pick(&self.cpu_times, 0.5)),
            ms(pick(&self.cpu_times, 0.99)),
            ms(pick(&self.times, 0.5)),
            ms(pick(&self.times, 0.99)),
            ms(pick(&self.times, 1.0)),
            per_frame,
            self.psnr_min,
        );
        if let Some((time, bytes)) = self.refine {
            println!("{name}: refinement IDR {:.1} ms, {bytes} bytes", ms(time));
        }
    }
}

/// CPU time consumed by the calling thread so far.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the struct we own; the thread CPU clock
    // exists on every Linux.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn frame(seq: u64, width: u16, height: u16, pixels: Vec<u8>) -> Frame {
    Frame {
        seq,
        width,
        height,
        stride: usize::from(width) * 4,
        format: PixelFormat::Bgrx,
        data: Bytes::from(pixels),
        damage: Vec::new(),
        captured_at: Instant::now(),
    }
}

fn quality(source: &Frame, decoder: &mut H264Decoder, data: &[u8]) -> Result<f64, H264Error> {
    let Some(picture) = decoder.decode(data)? else {
        return Ok(0.0);
    };
    let (width, height) = (usize::from(source.width), usize::from(source.height));
    Ok(psnr_bgrx(
        &source.data,
        source.stride,
        &picture.bgrx,
        picture.width * 4,
        width,
        height,
    ))
}

fn animation(width: u16, height: u16, frames: u32) -> Result<Report, H264Error> {
    let painter = Painter::new(u32::from(width), u32::from(height));
    let mut encoder = H264Encoder::new(EncoderSettings::default())?;
    let mut decoder = H264Decoder::new()?;
    let mut report = Report {
        first_idr: Duration::ZERO,
        times: Vec::new(),
        cpu_times: Vec::new(),
        bytes: Vec::new(),
        psnr_min: f64::MAX,
        refine: None,
    };
    for n in 0..=frames {
        let mut pixels = vec![0; usize::from(width) * usize::from(height) * 4];
        painter.paint(&mut pixels, usize::from(width) * 4, n);
        let source = frame(u64::from(n), width, height, pixels);
        let (start, cpu_start) = (Instant::now(), thread_cpu_time());
        let Some(encoded) = encoder.encode(&source, &[])? else {
            continue;
        };
        let (elapsed, cpu) = (start.elapsed(), thread_cpu_time().saturating_sub(cpu_start));
        report.psnr_min = report
            .psnr_min
            .min(quality(&source, &mut decoder, &encoded.data)?);
        if n == 0 {
            report.first_idr = elapsed;
            continue;
        }
        report.times.push(elapsed);
        report.cpu_times.push(cpu);
        report.bytes.push(encoded.data.len());
    }
    Ok(report)
}

fn typing(width: u16, height: u16, frames: u32) -> Result<Report, H264Error> {
    let mut encoder = H264Encoder::new(EncoderSettings::default())?;
    let mut decoder = H264Decoder::new()?;
    // Half the screen already written, as in a terminal in use.
    let cells = u32::from(width / 8) * u32::from(height / 16) / 2;
    let mut terminal = Terminal::filled(width, height, cells);
    let mut report = Report {
        first_idr: Duration::ZERO,
        times: Vec::new(),
        cpu_times: Vec::new(),
        bytes: Vec::new(),
        psnr_min: f64::MAX,
        refine: None,
    };
    let first = frame(0, width, height, terminal.pixels().to_vec());
    let start = Instant::now();
    if let Some(encoded) = encoder.encode(&first, &[])? {
        report.first_idr = start.elapsed();
        decoder.decode(&encoded.data)?;
    }
    let start = Instant::now();
    if let Some(refined) = encoder.refine()? {
        report.refine = Some((start.elapsed(), refined.data.len()));
        report.psnr_min = quality(&first, &mut decoder, &refined.data)?;
    }
    for n in 1..=frames {
        let Some(cell) = terminal.type_char() else { break };
        let source = frame(u64::from(n), width, height, terminal.pixels().to_vec());
        let (start, cpu_start) = (Instant::now(), thread_cpu_time());
        let Some(encoded) = encoder.encode(&source, &[cell])? else {
            continue;
        };
        report.times.push(start.elapsed());
        report.cpu_times.push(thread_cpu_time().saturating_sub(cpu_start));
        report.bytes.push(encoded.data.len());
        report.psnr_min = report
            .psnr_min
            .min(quality(&source, &mut decoder, &encoded.data)?);
    }
    Ok(report)
}
