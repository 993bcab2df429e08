//! What the planar path (graphics-pipeline clients without H.264) costs per frame: the time
//! to find and code the changed tiles of a frame on the session's task, and the bytes.
//!
//! `cargo bench -p wrd-rdp --bench planar_tiles -- [WIDTHxHEIGHT] [FRAMES]`: wrd-scene's
//! full-screen animation (every tile changes), then the same picture with one 9x16 character
//! cell changed per frame (typing), each frame coded against the one before.

// A bench: a bad argument or a failed coding ends it with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use wrd_frame::{Frame, PixelFormat, Rect};
use wrd_rdp::planar::encode_changed_tiles;
use wrd_scene::picture::Painter;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (width, height): (u16, u16) = args.first().map_or((1920, 1080), |s| {
        let (w, h) = s.split_once('x').expect("size as WxH");
        (w.parse().expect("width"), h.parse().expect("height"))
    });
    let frames: u32 = args.get(1).map_or(60, |s| s.parse().expect("frames"));
    println!("planar_tiles: {width}x{height}, {frames} frames per scene");
    let painter = Painter::new(u32::from(width), u32::from(height));
    let stride = usize::from(width) * 4;
    let paint = |n: u32| {
        let mut pixels = vec![0; stride * usize::from(height)];
        assert!(painter.paint(&mut pixels, stride, n));
        frame(width, height, pixels)
    };

    // Animation: every frame a new picture, the whole screen damaged.
    let pictures: Vec<Frame> = (0..=frames).map(paint).collect();
    let whole = [Rect::new(0, 0, width, height)];
    report(
        "animation",
        (1..pictures.len()).map(|i| (&pictures[i], &whole[..], &pictures[i - 1])),
    );

    // Typing: one character cell changes per frame; the damage is that cell.
    let base = paint(0);
    let mut typed = vec![base.clone()];
    let mut damages = Vec::new();
    for n in 0..frames {
        let mut pixels = typed[typed.len() - 1].data.to_vec();
        let (x, y) = (40 + (n % 100) * 9, 300 + (n / 100) * 16);
        for row in y..y + 16 {
            for column in x..x + 9 {
                let at = row as usize * stride + column as usize * 4;
                pixels[at..at + 3].fill(if (row + column + n) % 3 == 0 { 20 } else { 230 });
            }
        }
        damages.push([Rect::new(
            u16::try_from(x).unwrap(),
            u16::try_from(y).unwrap(),
            9,
            16,
        )]);
        typed.push(frame(width, height, pixels));
    }
    report(
        "typing",
        (1..typed.len()).map(|i| (&typed[i], &damages[i - 1][..], &typed[i - 1])),
    );
}

fn frame(width: u16, height: u16, pixels: Vec<u8>) -> Frame {
    Frame {
        seq: 0,
        width,
        height,
        stride: usize::from(width) * 4,
        format: PixelFormat::Bgrx,
        data: Bytes::from(pixels),
        damage: Vec::new(),
        captured_at: Instant::now(),
    }
}

fn report<'a>(scene: &str, frames: impl Iterator<Item = (&'a Frame, &'a [Rect], &'a Frame)>) {
    let mut times = Vec::new();
    let (mut bytes, mut tiles) = (0usize, 0usize);
    for (frame, damage, previous) in frames {
        let started = Instant::now();
        let coded = encode_changed_tiles(frame, damage, Some(previous)).expect("coding a frame");
        times.push(started.elapsed());
        tiles += coded.len();
        bytes += coded.iter().map(|tile| tile.data.len()).sum::<usize>();
    }
    times.sort();
    let n = times.len().max(1);
    let at = |per_mille: usize| times.get((n - 1) * per_mille / 1000).copied().unwrap_or_default();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{scene}: per frame median {:.2} ms, p99 {:.2} ms; {:.0} tiles and {:.0} bytes per frame ({:.2} Mbit/s at 30 fps)",
        ms(at(500)),
        ms(at(990)),
        tiles as f64 / n as f64,
        bytes as f64 / n as f64,
        bytes as f64 / n as f64 * 8.0 * 30.0 / 1e6,
    );
}
