//! The Wayland side: one full-screen `xdg_toplevel` drawn into `wl_shm` buffers.

use std::fs::File;
use std::os::fd::AsFd as _;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use memmap2::MmapMut;
use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::{
    wl_buffer, wl_callback, wl_compositor, wl_keyboard, wl_registry, wl_seat, wl_shm, wl_shm_pool, wl_surface,
};
use wayland_client::{Connection, Dispatch, Proxy as _, QueueHandle, WEnum, delegate_noop};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};
use wrd_scene::flip;
use wrd_scene::picture::Painter;

use crate::Scene;

/// Buffers per size: the compositor may hold one on screen and one being read (screen cast)
/// while we paint the third.
const SLOTS: usize = 3;

pub fn run(scene: Scene, fallback_size: (u32, u32), report_every: Duration) -> Result<()> {
    let conn = Connection::connect_to_env()
        .context("connecting to the Wayland compositor (is WAYLAND_DISPLAY set?)")?;
    let (globals, mut queue) = registry_queue_init::<App>(&conn).context("listing the Wayland globals")?;
    let qh = queue.handle();
    let compositor: wl_compositor::WlCompositor = globals
        .bind(&qh, 4..=4, ())
        .context("wl_compositor version 4 (damage_buffer)")?;
    let shm: wl_shm::WlShm = globals.bind(&qh, 1..=1, ()).context("wl_shm")?;
    // Version 1 is enough and keeps newer events (configure_bounds, wm_capabilities) away.
    let wm_base: xdg_wm_base::XdgWmBase = globals.bind(&qh, 1..=1, ()).context("xdg_wm_base")?;
    // The flipper listens to the keyboard; its capabilities event hands us one.
    let _seat: Option<wl_seat::WlSeat> = if scene == Scene::Flip {
        Some(globals.bind(&qh, 1..=5, ()).context("wl_seat")?)
    } else {
        None
    };

    let surface = compositor.create_surface(&qh, ());
    let xdg_surface = wm_base.get_xdg_surface(&surface, &qh, ());
    let toplevel = xdg_surface.get_toplevel(&qh, ());
    toplevel.set_title("wrd-scene".to_owned());
    toplevel.set_app_id("wrd-scene".to_owned());
    toplevel.set_fullscreen(None);
    surface.commit();

    let mut app = App {
        scene,
        shm,
        surface,
        size: fallback_size,
        buffers: None,
        generation: 0,
        configured: false,
        frame_requested: false,
        waiting_for_buffer: false,
        frames: 0,
        flip_index: 0,
        keyboard: None,
        first_frame_at: None,
        closed: false,
        error: None,
    };
    let mut next_report = Instant::now() + report_every;
    while !app.closed {
        queue
            .blocking_dispatch(&mut app)
            .context("talking to the compositor")?;
        if let Some(e) = app.error.take() {
            return Err(e);
        }
        if scene == Scene::Animate
            && let Some(first) = app.first_frame_at
            && Instant::now() >= next_report
        {
            println!(
                "wrd-scene: frames={} seconds={:.3}",
                app.frames,
                first.elapsed().as_secs_f64()
            );
            next_report = Instant::now() + report_every;
        }
    }
    println!(
        "wrd-scene: the compositor closed the window after {} frames",
        app.frames
    );
    Ok(())
}

struct Slot {
    buffer: wl_buffer::WlBuffer,
    offset: usize,
    busy: bool,
}

/// The buffers of one surface size, in one shared-memory pool.
struct Buffers {
    painter: Painter,
    stride: usize,
    frame_bytes: usize,
    map: MmapMut,
    pool: wl_shm_pool::WlShmPool,
    slots: Vec<Slot>,
    // The pool's memory: kept open for as long as the pool lives.
    _file: File,
}

impl Buffers {
    fn new(
        shm: &wl_shm::WlShm,
        (width, height): (u32, u32),
        generation: u32,
        qh: &QueueHandle<App>,
    ) -> Result<Self> {
        let stride = width as usize * 4;
        let frame_bytes = stride * height as usize;
        let total = frame_bytes * SLOTS;
        let pool_size = i32::try_from(total).context("buffers larger than 2 GiB")?;
        let fd =
            rustix::fs::memfd_create("wrd-scene", rustix::fs::MemfdFlags::CLOEXEC).context("memfd_create")?;
        let file = File::from(fd);
        file.set_len(total as u64).context("sizing the shared memory")?;
        // SAFETY: the memfd is ours alone: nothing in this process resizes or maps it otherwise,
        // and the compositor only reads the buffers we hand it (it never writes into wl_shm
        // buffers), so the mapping's contents change only through this `MmapMut`.
        let map = unsafe { MmapMut::map_mut(&file) }.context("mapping the shared memory")?;
        let pool = shm.create_pool(file.as_fd(), pool_size, qh, ());
        let (w, h, s) = (
            i32::try_from(width).context("width")?,
            i32::try_from(height).context("height")?,
            i32::try_from(stride).context("stride")?,
        );
        let mut slots = Vec::with_capacity(SLOTS);
        for index in 0..SLOTS {
            let offset = index * frame_bytes;
            let buffer = pool.create_buffer(
                i32::try_from(offset).context("offset")?,
                w,
                h,
                s,
                wl_shm::Format::Xrgb8888,
                qh,
                (generation, index),
            );
            slots.push(Slot {
                buffer,
                offset,
                busy: false,
            });
        }
        Ok(Self {
            painter: Painter::new(width, height),
            stride,
            frame_bytes,
            map,
            pool,
            slots,
            _file: file,
        })
    }

    fn destroy(self) {
        for slot in self.slots {
            slot.buffer.destroy();
        }
        self.pool.destroy();
    }
}

struct App {
    scene: Scene,
    shm: wl_shm::WlShm,
    surface: wl_surface::WlSurface,
    /// Size of the buffers to draw: the compositor's, once it said.
    size: (u32, u32),
    buffers: Option<Buffers>,
    /// Tells release events of destroyed buffers from current ones.
    generation: u32,
    configured: bool,
    frame_requested: bool,
    /// A frame is due but every buffer is still held by the compositor.
    waiting_for_buffer: bool,
    /// Frames committed; for `animate` also the number painted into the next frame.
    frames: u32,
    first_frame_at: Option<Instant>,
    /// `flip`: the palette index of the colour on screen (or about to be).
    flip_index: usize,
    keyboard: Option<wl_keyboard::WlKeyboard>,
    closed: bool,
    /// An error inside an event handler, returned by the main loop.
    error: Option<anyhow::Error>,
}

impl App {
    fn draw(&mut self, qh: &QueueHandle<Self>) {
        if let Err(e) = self.try_draw(qh) {
            self.error = Some(e);
        }
    }

    fn try_draw(&mut self, qh: &QueueHandle<Self>) -> Result<()> {
        if self
            .buffers
            .as_ref()
            .is_none_or(|b| b.painter.size() != self.size)
        {
            if let Some(old) = self.buffers.take() {
                old.destroy();
            }
            self.generation = self.generation.wrapping_add(1);
            self.buffers = Some(Buffers::new(&self.shm, self.size, self.generation, qh)?);
            println!("wrd-scene: drawing at {}x{}", self.size.0, self.size.1);
        }
        let Some(buffers) = self.buffers.as_mut() else {
            bail!("no buffers");
        };
        let Some(slot) = buffers.slots.iter_mut().find(|s| !s.busy) else {
            self.waiting_for_buffer = true;
            return Ok(());
        };
        self.waiting_for_buffer = false;
        let area = &mut buffers.map[slot.offset..slot.offset + buffers.frame_bytes];
        let painted = match self.scene {
            Scene::Animate => buffers.painter.paint(area, buffers.stride, self.frames),
            // A static scene redrawn (at a new size) is still the same picture: frame 0.
            Scene::Static => buffers.painter.paint(area, buffers.stride, 0),
            Scene::Flip => {
                let [r, g, b] = flip::PALETTE[self.flip_index % flip::PALETTE.len()];
                fill(area, [b, g, r, 0xff]);
                true
            }
        };
        if !painted {
            bail!(
                "a buffer of {} bytes is too small for {:?}",
                area.len(),
                self.size
            );
        }
        slot.busy = true;
        let (w, h) = self.size;
        self.surface.attach(Some(&slot.buffer), 0, 0);
        self.surface
            .damage_buffer(0, 0, i32::try_from(w)?, i32::try_from(h)?);
        if self.scene == Scene::Animate {
            self.surface.frame(qh, ());
            self.frame_requested = true;
        }
        self.surface.commit();
        self.frames = self.frames.wrapping_add(1);
        if self.first_frame_at.is_none() {
            self.first_frame_at = Some(Instant::now());
            println!("wrd-scene: first frame committed");
        }
        Ok(())
    }
}

/// Fills XRGB8888 memory with one pixel value: the first row pixel by pixel, then row-sized
/// copies doubling in length (a 1920x1080 surface takes a couple of milliseconds).
fn fill(area: &mut [u8], pixel: [u8; 4]) {
    let Some(first) = area.get_mut(..4) else {
        return;
    };
    first.copy_from_slice(&pixel);
    let mut done = 4;
    while done < area.len() {
        let n = done.min(area.len() - done);
        area.copy_within(..n, done);
        done += n;
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for App {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        // Globals appearing or vanishing later do not concern a client that binds three.
    }
}

delegate_noop!(App: ignore wl_compositor::WlCompositor);
delegate_noop!(App: ignore wl_shm::WlShm);
delegate_noop!(App: ignore wl_shm_pool::WlShmPool);
delegate_noop!(App: ignore wl_surface::WlSurface);

impl Dispatch<wl_seat::WlSeat, ()> for App {
    fn event(
        app: &mut Self,
        seat: &wl_seat::WlSeat,
        event: wl_seat::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_seat::Event::Capabilities {
            capabilities: WEnum::Value(capabilities),
        } = event
        {
            let has_keyboard = capabilities.contains(wl_seat::Capability::Keyboard);
            match (has_keyboard, app.keyboard.take()) {
                (true, None) => app.keyboard = Some(seat.get_keyboard(qh, ())),
                (true, Some(k)) => app.keyboard = Some(k),
                (false, Some(k)) => {
                    if k.version() >= 3 {
                        k.release();
                    }
                }
                (false, None) => {}
            }
        }
    }
}

impl Dispatch<wl_keyboard::WlKeyboard, ()> for App {
    fn event(
        app: &mut Self,
        _: &wl_keyboard::WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        match event {
            // Key codes are all the flipper needs; the keymap's fd is closed when dropped here.
            wl_keyboard::Event::Keymap { .. } => {}
            wl_keyboard::Event::Enter { .. } => println!("wrd-scene: keyboard focus"),
            wl_keyboard::Event::Leave { .. } => println!("wrd-scene: keyboard focus lost"),
            wl_keyboard::Event::Key {
                key,
                state: WEnum::Value(wl_keyboard::KeyState::Pressed),
                ..
            } if !flip::is_modifier(key) => {
                // CLOCK_MONOTONIC, the clock a client on this machine reads too: the time from
                // its key event to this line is the input path through server and compositor.
                let at = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
                app.flip_index = flip::next_index(app.flip_index);
                // Repaint first: the line is for logs, the pixels are what is measured. Before
                // the first configure there is nothing to repaint (the first draw uses the
                // index then).
                if app.configured {
                    app.draw(qh);
                }
                println!(
                    "wrd-scene: key {key} colour {} at {}.{:09}",
                    app.flip_index, at.tv_sec, at.tv_nsec
                );
            }
            _ => {}
        }
    }
}

impl Dispatch<wl_buffer::WlBuffer, (u32, usize)> for App {
    fn event(
        app: &mut Self,
        _: &wl_buffer::WlBuffer,
        event: wl_buffer::Event,
        &(generation, index): &(u32, usize),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_buffer::Event::Release = event
            && generation == app.generation
        {
            if let Some(slot) = app.buffers.as_mut().and_then(|b| b.slots.get_mut(index)) {
                slot.busy = false;
            }
            if app.waiting_for_buffer {
                app.draw(qh);
            }
        }
    }
}

impl Dispatch<wl_callback::WlCallback, ()> for App {
    fn event(
        app: &mut Self,
        _: &wl_callback::WlCallback,
        event: wl_callback::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            app.frame_requested = false;
            app.draw(qh);
        }
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for App {
    fn event(
        _: &mut Self,
        wm_base: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm_base.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for App {
    fn event(
        app: &mut Self,
        xdg_surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            xdg_surface.ack_configure(serial);
            let first = !app.configured;
            app.configured = true;
            let resized = app.buffers.as_ref().is_some_and(|b| b.painter.size() != app.size);
            // The first configure starts drawing; after a resize a static scene draws again
            // and an animated one picks the new size up with its next frame (or now, if no
            // frame callback is pending).
            if first || (resized && (app.scene == Scene::Static || !app.frame_requested)) {
                app.draw(qh);
            }
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for App {
    fn event(
        app: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            xdg_toplevel::Event::Configure { width, height, .. } => {
                // 0 means "you choose": keep the size we have.
                if let (Ok(w @ 1..), Ok(h @ 1..)) = (u32::try_from(width), u32::try_from(height)) {
                    app.size = (w, h);
                }
            }
            xdg_toplevel::Event::Close => app.closed = true,
            _ => {}
        }
    }
}
