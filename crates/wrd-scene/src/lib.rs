//! `wrd-scene`: benchmark content that runs the same on every Wayland compositor (sway, mutter,
//! weston), so that RDP servers on different compositors can be measured with the same picture.
//!
//! The binary (feature `wayland`, on by default) is a plain `xdg_toplevel` client drawing into
//! `wl_shm` buffers, full screen:
//!
//! - `wrd-scene animate` redraws the whole surface on every frame callback: diagonal colour
//!   bars moving 7 pixels per frame, so every pixel (hence every 64x64 codec tile) changes
//!   every frame, with a frame counter drawn into it ([`counter`]) that a client of any RDP
//!   server can read back from its decoded picture to count the distinct frames it received;
//! - `wrd-scene static` draws frame 0 once and then nothing;
//! - `wrd-scene flip` (the flipper, for input-to-pixel latency) fills the surface with one
//!   solid colour and repaints all of it in the next colour of [`flip::PALETTE`] on every key
//!   press (modifiers aside), so a client sees exactly when a key took effect.
//!
//! This library part is the picture ([`picture`]), the counter ([`counter`]) and the flipper's
//! colours ([`flip`]); it has no
//! dependencies, so `wrd-bench` can read the counter without linking a Wayland client.

pub mod counter;
pub mod flip;
pub mod picture;
