//! A small X11 client (x11rb) for measuring a real RDP client under Xvfb: read a region of the
//! screen (`GetImage`, a fraction of a millisecond for a small region, against tens of
//! milliseconds for a full `xwd` screenshot) and send input as the user would (XTEST fake
//! key, button and motion events, which the X server delivers like a keyboard's).

use anyhow::{Context, Result, bail};
use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{self, ConnectionExt as _, ImageFormat};
use x11rb::protocol::xtest::ConnectionExt as _;
use x11rb::rust_connection::RustConnection;

use crate::cli::Region;

/// A connection to one X display and its root window.
pub struct Display {
    conn: RustConnection,
    root: xproto::Window,
    depth: u8,
}

impl std::fmt::Debug for Display {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Display")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// X keycode of a set-1 scancode without the `E0` prefix: below 0x59 the Linux evdev code
/// equals the scancode, and X keycodes are evdev codes + 8 on every Xorg server (Xvfb too).
pub fn keycode_for_scancode(scancode: u8) -> Option<u8> {
    (1..0x59).contains(&scancode).then(|| scancode + 8)
}

impl Display {
    pub fn connect(display: &str) -> Result<Self> {
        let (conn, screen) = x11rb::connect(Some(display))
            .with_context(|| format!("connecting to the X display {display}"))?;
        let screen = conn
            .setup()
            .roots
            .get(screen)
            .with_context(|| format!("the X display {display} has no screen {screen}"))?;
        let (root, depth) = (screen.root, screen.root_depth);
        if depth != 24 && depth != 32 {
            bail!("the X display {display} has depth {depth}; 24-bit colour is needed");
        }
        // XTEST must be there, or no input can be sent.
        conn.xtest_get_version(2, 2)
            .context("asking for the XTEST extension")?
            .reply()
            .with_context(|| format!("the X display {display} has no XTEST extension"))?;
        Ok(Self { conn, root, depth })
    }

    /// The region's pixels, B, G, R, X per pixel, row after row.
    pub fn region(&self, r: Region) -> Result<Vec<u8>> {
        let x = i16::try_from(r.x).context("region x beyond the X protocol's range")?;
        let y = i16::try_from(r.y).context("region y beyond the X protocol's range")?;
        let reply = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.root, x, y, r.width, r.height, !0)
            .context("GetImage")?
            .reply()
            .context("GetImage reply")?;
        if reply.depth != self.depth {
            bail!("GetImage returned depth {}", reply.depth);
        }
        Ok(reply.data)
    }

    /// The colours (R, G, B) at `points`, in one round trip (the requests are pipelined).
    pub fn rgb_at(&self, points: &[(u16, u16)]) -> Result<Vec<[u8; 3]>> {
        let mut cookies = Vec::with_capacity(points.len());
        for &(x, y) in points {
            let x = i16::try_from(x).context("x beyond the X protocol's range")?;
            let y = i16::try_from(y).context("y beyond the X protocol's range")?;
            cookies.push(
                self.conn
                    .get_image(ImageFormat::Z_PIXMAP, self.root, x, y, 1, 1, !0)
                    .context("GetImage")?,
            );
        }
        cookies
            .into_iter()
            .map(|c| {
                let reply = c.reply().context("GetImage reply")?;
                match reply.data.get(..3) {
                    Some(&[b, g, r]) => Ok([r, g, b]),
                    _ => bail!("GetImage returned {} bytes for one pixel", reply.data.len()),
                }
            })
            .collect()
    }

    fn fake(&self, kind: u8, detail: u8, x: i16, y: i16) -> Result<()> {
        self.conn
            .xtest_fake_input(kind, detail, x11rb::CURRENT_TIME, self.root, x, y, 0)
            .context("XTEST FakeInput")?;
        Ok(())
    }

    /// Presses or releases a key (X keycode); returns once the X server has processed it.
    pub fn key(&self, keycode: u8, pressed: bool) -> Result<()> {
        let kind = if pressed {
            xproto::KEY_PRESS_EVENT
        } else {
            xproto::KEY_RELEASE_EVENT
        };
        self.fake(kind, keycode, 0, 0)?;
        self.sync()
    }

    /// Moves the pointer to (x, y) of the root window.
    pub fn move_pointer(&self, x: u16, y: u16) -> Result<()> {
        let x = i16::try_from(x).context("x beyond the X protocol's range")?;
        let y = i16::try_from(y).context("y beyond the X protocol's range")?;
        self.fake(xproto::MOTION_NOTIFY_EVENT, 0, x, y)?;
        self.sync()
    }

    /// Presses or releases pointer button `button` (1 = left).
    pub fn button(&self, button: u8, pressed: bool) -> Result<()> {
        let kind = if pressed {
            xproto::BUTTON_PRESS_EVENT
        } else {
            xproto::BUTTON_RELEASE_EVENT
        };
        self.fake(kind, button, 0, 0)?;
        self.sync()
    }

    /// A round trip: every request sent before has been processed.
    fn sync(&self) -> Result<()> {
        self.conn
            .get_input_focus()
            .context("GetInputFocus")?
            .reply()
            .context("X server round trip")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scancodes_below_0x59_map_to_evdev_plus_8() {
        assert_eq!(keycode_for_scancode(0x1e), Some(38)); // A
        assert_eq!(keycode_for_scancode(0x01), Some(9)); // Escape
        assert_eq!(keycode_for_scancode(0x58), Some(96)); // F12
        assert_eq!(keycode_for_scancode(0x00), None);
        assert_eq!(keycode_for_scancode(0x59), None);
    }
}
