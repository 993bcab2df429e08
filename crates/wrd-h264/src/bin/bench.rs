//! `wrd-h264-bench`: encode time per frame at a given size for two kinds of content, printed
//! as text (BENCHMARKS.md records its output).
//!
//! - `animation`: wrd-scene's full-screen animation (every pixel changes every frame);
//! - `typing`: a terminal of text, refined once, then one new character per frame.
//!
//! Usage: `wrd-h264-bench [WIDTHxHEIGHT] [FRAMES] [VARIANT...]` (default 1920x1080, 300 frames,
//! the default settings). A variant is `default` or `CONTENT:EFFORT:SCENECUT[:MBIT][:tTHREADS][:deblock|:nodeblock]`
//! (`screen|camera`, `low|medium`, `scd|noscd`, the target bit rate in Mbit/s (or kbit/s with a `k`: `5500k`), encoder threads, the deblocking filter on or off; unsaid: the LAN preset's). Several variants are measured side by side: every
//! frame is encoded by each variant's encoder in turn, so a change of load on a shared machine
//! weighs on all of them alike.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use wrd_frame::{Frame, PixelFormat};
use wrd_h264::synthetic::Terminal;
use wrd_h264::{ContentMode, EncoderEffort, EncoderSettings, H264Decoder, H264Encoder, H264Error, psnr_bgrx};
use wrd_scene::picture::Painter;

/// The frame rate the bit rate is quoted at (the encoder plans for it too).
const FPS: f64 = 60.0;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let size = args.first().map_or(Some((1920, 1080)), |arg| parse_size(arg));
    let frames = args.get(1).map_or(Some(300), |arg| arg.parse::<u32>().ok());
    let variants: Option<Vec<Variant>> = if args.len() > 2 {
        args[2..].iter().map(|arg| Variant::parse(arg)).collect()
    } else {
        Some(vec![Variant::parse("default")].into_iter().flatten().collect())
    };
    let (Some((width, height)), Some(frames), Some(variants)) = (size, frames, variants) else {
        eprintln!(
            "usage: wrd-h264-bench [WIDTHxHEIGHT] [FRAMES] [VARIANT...]\n\
             VARIANT: default, or CONTENT:EFFORT:SCENECUT[:MBIT][:tTHREADS][:deblock|:nodeblock] \
             with screen|camera, low|medium, scd|noscd, the bit rate in Mbit/s (or kbit/s: 5500k), the encoder \
             threads and the deblocking filter"
        );
        return ExitCode::from(2);
    };
    let names: Vec<&str> = variants.iter().map(|variant| variant.name.as_str()).collect();
    println!(
        "wrd-h264-bench {width}x{height}, {frames} frames per scene, LAN settings, settings per \
         variant; variants side by side: {}",
        names.join(", ")
    );
    for (scene, result) in [
        ("animation", animation(width, height, frames, &variants)),
        ("typing", typing(width, height, frames, &variants)),
    ] {
        match result {
            Ok(reports) => {
                for (variant, mut report) in variants.iter().zip(reports) {
                    report.print(&format!("{scene} [{}]", variant.name));
                }
            }
            Err(err) => {
                eprintln!("{scene}: {err}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// A named set of encoder settings under test.
struct Variant {
    name: String,
    settings: EncoderSettings,
}

impl Variant {
    fn parse(spec: &str) -> Option<Self> {
        let mut settings = EncoderSettings::default();
        if spec != "default" {
            let mut parts = spec.split(':');
            settings.content = match parts.next()? {
                "screen" => ContentMode::Screen,
                "camera" => ContentMode::Camera,
                _ => return None,
            };
            settings.effort = match parts.next()? {
                "low" => EncoderEffort::Low,
                "medium" => EncoderEffort::Medium,
                _ => return None,
            };
            settings.scene_change_detection = match parts.next()? {
                "scd" => true,
                "noscd" => false,
                _ => return None,
            };
            for part in parts {
                if part == "nodeblock" || part == "deblock" {
                    settings.deblocking = part == "deblock";
                } else if let Some(threads) = part.strip_prefix('t') {
                    settings.threads = threads.parse().ok().filter(|threads| *threads > 0)?;
                } else if let Some(kbit) = part.strip_suffix('k') {
                    settings.bitrate_bps = kbit.parse::<u32>().ok()?.checked_mul(1_000)?;
                } else {
                    settings.bitrate_bps = part.parse::<u32>().ok()?.checked_mul(1_000_000)?;
                }
            }
        }
        Some(Self {
            name: spec.to_owned(),
            settings,
        })
    }
}

/// One variant's encoder, the decoder checking it, and what it measured.
struct Run {
    encoder: H264Encoder,
    decoder: H264Decoder,
    report: Report,
}

impl Run {
    fn new(variant: &Variant) -> Result<Self, H264Error> {
        Ok(Self {
            encoder: H264Encoder::new(variant.settings.clone())?,
            decoder: H264Decoder::new()?,
            report: Report {
                first_idr: Duration::ZERO,
                times: Vec::new(),
                cpu_times: Vec::new(),
                bytes: Vec::new(),
                psnr_min: f64::MAX,
                psnr_sum: 0.0,
                psnr_count: 0,
                refine: None,
            },
        })
    }
}

fn parse_size(arg: &str) -> Option<(u16, u16)> {
    let (w, h) = arg.split_once('x')?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

struct Report {
    first_idr: Duration,
    times: Vec<Duration>,
    /// CPU time of the process per frame (the bench does nothing else meanwhile, so this is
    /// the encoder's, on all its threads): what a frame costs in cores, whatever else the
    /// machine is doing (wall times on a shared machine include waiting for a core).
    cpu_times: Vec<Duration>,
    bytes: Vec<usize>,
    psnr_min: f64,
    psnr_sum: f64,
    psnr_count: u32,
    refine: Option<(Duration, usize)>,
}

impl Report {
    // Byte and frame counts of a benchmark run are far below 2^52: the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    fn print(&mut self, name: &str) {
        if self.times.is_empty() {
            println!("{name}: no frame encoded");
            return;
        }
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
             {:.0} bytes/frame = {mbit:.2} Mbit/s at {FPS} fps; PSNR worst {:.1} dB, mean {:.1} dB",
            ms(self.first_idr),
            ms(pick(&self.cpu_times, 0.5)),
            ms(pick(&self.cpu_times, 0.99)),
            ms(pick(&self.times, 0.5)),
            ms(pick(&self.times, 0.99)),
            ms(pick(&self.times, 1.0)),
            per_frame,
            self.psnr_min,
            self.psnr_sum / f64::from(self.psnr_count.max(1)),
        );
        if let Some((time, bytes)) = self.refine {
            println!("{name}: refinement IDR {:.1} ms, {bytes} bytes", ms(time));
        }
    }
}

/// CPU time consumed by this process so far.
fn cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the struct we own; the process CPU clock
    // exists on every Linux.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &raw mut now) };
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

impl Report {
    fn add_psnr(&mut self, psnr: f64) {
        self.psnr_min = self.psnr_min.min(psnr);
        self.psnr_sum += psnr;
        self.psnr_count += 1;
    }
}

fn animation(width: u16, height: u16, frames: u32, variants: &[Variant]) -> Result<Vec<Report>, H264Error> {
    let painter = Painter::new(u32::from(width), u32::from(height));
    let mut runs = variants.iter().map(Run::new).collect::<Result<Vec<_>, _>>()?;
    for n in 0..=frames {
        let mut pixels = vec![0; usize::from(width) * usize::from(height) * 4];
        painter.paint(&mut pixels, usize::from(width) * 4, n);
        let source = frame(u64::from(n), width, height, pixels);
        for run in &mut runs {
            let (start, cpu_start) = (Instant::now(), cpu_time());
            let Some(encoded) = run.encoder.encode(&source, &[])? else {
                continue;
            };
            let (elapsed, cpu) = (start.elapsed(), cpu_time().saturating_sub(cpu_start));
            let psnr = quality(&source, &mut run.decoder, &encoded.data)?;
            run.report.add_psnr(psnr);
            if n == 0 {
                run.report.first_idr = elapsed;
                continue;
            }
            run.report.times.push(elapsed);
            run.report.cpu_times.push(cpu);
            run.report.bytes.push(encoded.data.len());
        }
    }
    Ok(runs.into_iter().map(|run| run.report).collect())
}

fn typing(width: u16, height: u16, frames: u32, variants: &[Variant]) -> Result<Vec<Report>, H264Error> {
    let mut runs = variants.iter().map(Run::new).collect::<Result<Vec<_>, _>>()?;
    // Half the screen already written, as in a terminal in use.
    let cells = u32::from(width / 8) * u32::from(height / 16) / 2;
    let mut terminal = Terminal::filled(width, height, cells);
    let first = frame(0, width, height, terminal.pixels().to_vec());
    for run in &mut runs {
        let start = Instant::now();
        if let Some(encoded) = run.encoder.encode(&first, &[])? {
            run.report.first_idr = start.elapsed();
            run.decoder.decode(&encoded.data)?;
        }
        let start = Instant::now();
        if let Some(refined) = run.encoder.refine()? {
            run.report.refine = Some((start.elapsed(), refined.data.len()));
            let psnr = quality(&first, &mut run.decoder, &refined.data)?;
            run.report.add_psnr(psnr);
        }
    }
    for n in 1..=frames {
        let Some(cell) = terminal.type_char() else { break };
        let source = frame(u64::from(n), width, height, terminal.pixels().to_vec());
        for run in &mut runs {
            let (start, cpu_start) = (Instant::now(), cpu_time());
            let Some(encoded) = run.encoder.encode(&source, &[cell])? else {
                continue;
            };
            run.report.times.push(start.elapsed());
            run.report.cpu_times.push(cpu_time().saturating_sub(cpu_start));
            run.report.bytes.push(encoded.data.len());
            let psnr = quality(&source, &mut run.decoder, &encoded.data)?;
            run.report.add_psnr(psnr);
        }
    }
    Ok(runs.into_iter().map(|run| run.report).collect())
}
