//! The virtual keyboard's brain, without Wayland (sans-I/O, unit-tested on its own): the xkb
//! keymap compiled from RMLVO names, the modifier state the compositor must be told, and how a
//! keysym is typed. Each operation returns the [`KeyboardAction`]s to put on the wire, in order.
//!
//! Why the state is tracked here: wlroots feeds a virtual keyboard's keys to clients without
//! updating its own xkb state from them (`update_state = false` for virtual keyboards), so a
//! client sees Shift only when the virtual keyboard sends `modifiers` itself. Like wayvnc, we
//! keep an `xkb_state`, feed it every key, and send the serialized masks whenever they change.
//!
//! Keysyms: the keymap is searched for a key and shift level that produce the keysym; the level's
//! modifiers are sent for the press only and the real state restored right after it (wayvnc's
//! way: no Shift key is pressed on the desktop's behalf). A keysym the layout does not have
//! (`€` on `us`, any emoji) gets a keycode that has no symbols in the layout, written into the
//! keymap text, and the grown keymap is uploaded again (wtype's way, but keeping every key of
//! the layout as it was, so normal keys type what they typed before).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use xkbcommon::xkb;

use crate::virtual_input::VirtualInputError;

/// The highest evdev key code (`KEY_MAX` in linux/input-event-codes.h).
pub const EVDEV_KEY_MAX: u32 = 0x2ff;
/// xkb keycodes are evdev codes plus 8 (an X11 legacy every Wayland compositor keeps).
const XKB_OFFSET: u32 = 8;
/// Keysyms are typed only on keycodes X11 clients can see too (Xwayland's limit): a keysym
/// the layout has only beyond it (`€` on `KEY_EURO` in `us`) gets a spare key below it.
const XKB_X11_MAX: u32 = 255;

/// Which keyboard layout to compile (the RMLVO names a user knows; rules `evdev`, model
/// `pc105`, no options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeymapNames {
    /// `us`, `de`, `fr`, ... (several, comma-separated, make a multi-group keymap).
    pub layout: String,
    /// `nodeadkeys`, `dvorak`, ... or empty for the layout's default.
    pub variant: String,
}

impl Default for KeymapNames {
    fn default() -> Self {
        Self {
            layout: "us".into(),
            variant: String::new(),
        }
    }
}

impl KeymapNames {
    pub fn new(layout: impl Into<String>, variant: impl Into<String>) -> Self {
        Self {
            layout: layout.into(),
            variant: variant.into(),
        }
    }
}

/// The four values of `zwp_virtual_keyboard_v1.modifiers` (and `wl_keyboard.modifiers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Modifiers {
    pub depressed: u32,
    pub latched: u32,
    pub locked: u32,
    pub group: u32,
}

/// One request for the virtual keyboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyboardAction {
    /// Upload this keymap (XKB text, format `XKB_V1`).
    Keymap(String),
    /// A key event, as an evdev code.
    Key {
        evdev: u32,
        pressed: bool,
    },
    Modifiers(Modifiers),
}

/// A keysym given a keycode of its own beyond the layout.
#[derive(Debug, Clone)]
struct ExtraKey {
    xkb_keycode: u32,
    /// The key's name in `xkb_keycodes` (`<I249>`), or our own when the layout has none.
    name: String,
    /// Whether `name` must be declared in `xkb_keycodes` (the layout does not name the code).
    declare: bool,
    keysym: u32,
}

/// Where a keysym is: key, layout (group) and shift level, with the modifiers selecting it.
#[derive(Debug, Clone, Copy)]
struct KeysymPlace {
    xkb_keycode: u32,
    layout: u32,
    /// Modifiers that select `level` (0 for the base level).
    mask: u32,
    /// Every modifier that changes the level of this key (its key type's modifiers).
    level_mods: u32,
}

/// The virtual keyboard's xkb state. Not `Send` (xkbcommon objects): it lives on the thread
/// that owns the Wayland connection.
pub struct KeyboardModel {
    context: xkb::Context,
    names: KeymapNames,
    /// The layout's keymap as compiled from `names`, and serialized (extra keys are added to
    /// the text).
    layout: xkb::Keymap,
    layout_text: String,
    extras: Vec<ExtraKey>,
    keymap: xkb::Keymap,
    state: xkb::State,
    /// Pressed keys, as xkb keycodes.
    held: BTreeSet<u32>,
    /// Which key each pressed keysym went out on, for its release.
    keysym_keys: HashMap<u32, u32>,
    /// The last modifiers sent (None: send them on the next occasion).
    sent: Option<Modifiers>,
}

impl std::fmt::Debug for KeyboardModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyboardModel")
            .field("names", &self.names)
            .field("extras", &self.extras.len())
            .field("held", &self.held)
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

fn compile_names(context: &xkb::Context, names: &KeymapNames) -> Result<xkb::Keymap, VirtualInputError> {
    let bad = |reason: &str| VirtualInputError::Keymap {
        layout: names.layout.clone(),
        variant: names.variant.clone(),
        reason: reason.to_owned(),
    };
    if names.layout.is_empty() {
        return Err(bad("no layout named"));
    }
    // xkbcommon's binding panics on an interior NUL; names are plain ASCII words anyway.
    let plain = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ',' | '(' | ')' | ':'))
    };
    if !plain(&names.layout) || !plain(&names.variant) {
        return Err(bad("names may hold only letters, digits and _-,():"));
    }
    xkb::Keymap::new_from_names(
        context,
        "evdev",
        "pc105",
        names.layout.as_str(),
        names.variant.as_str(),
        Some(String::new()),
        xkb::KEYMAP_COMPILE_NO_FLAGS,
    )
    .ok_or_else(|| bad("xkbcommon cannot compile it (unknown layout or variant?)"))
}

fn compile_text(context: &xkb::Context, text: &str) -> Option<xkb::Keymap> {
    xkb::Keymap::new_from_string(
        context,
        text.to_owned(),
        xkb::KEYMAP_FORMAT_TEXT_V1,
        xkb::KEYMAP_COMPILE_NO_FLAGS,
    )
}

impl KeyboardModel {
    /// Compiles the keymap of `names`. The returned actions upload it and set the modifiers:
    /// they must reach the compositor before any key.
    pub fn new(names: &KeymapNames) -> Result<(Self, Vec<KeyboardAction>), VirtualInputError> {
        let context = xkb::Context::new(xkb::CONTEXT_NO_ENVIRONMENT_NAMES);
        let keymap = compile_names(&context, names)?;
        let layout_text = keymap.get_as_string(xkb::KEYMAP_FORMAT_TEXT_V1);
        let state = xkb::State::new(&keymap);
        let mut model = Self {
            context,
            names: names.clone(),
            layout: keymap.clone(),
            layout_text: layout_text.clone(),
            extras: Vec::new(),
            keymap,
            state,
            held: BTreeSet::new(),
            keysym_keys: HashMap::new(),
            sent: None,
        };
        let mut actions = vec![KeyboardAction::Keymap(layout_text)];
        model.sync_modifiers(&mut actions);
        Ok((model, actions))
    }

    /// Replaces the layout. Keys still pressed are released first (under the keymap they were
    /// pressed with). A layout that does not compile changes nothing.
    pub fn set_keymap(&mut self, names: &KeymapNames) -> Result<Vec<KeyboardAction>, VirtualInputError> {
        let keymap = compile_names(&self.context, names)?;
        let mut actions = self.release_all();
        let locked = self.state.serialize_mods(xkb::STATE_MODS_LOCKED);
        self.layout_text = keymap.get_as_string(xkb::KEYMAP_FORMAT_TEXT_V1);
        self.layout = keymap.clone();
        self.extras.clear();
        self.names = names.clone();
        self.state = xkb::State::new(&keymap);
        // Caps Lock and Num Lock stay as they were: the desktop's user set them.
        self.state.update_mask(0, 0, locked, 0, 0, 0);
        self.keymap = keymap;
        actions.push(KeyboardAction::Keymap(self.layout_text.clone()));
        self.sent = None;
        self.sync_modifiers(&mut actions);
        Ok(actions)
    }

    /// A key by its evdev code. A press of a key already down (a client's auto-repeat) and a
    /// release of a key that is up send nothing: the compositor's clients repeat by themselves,
    /// and every release on the wire matches a press.
    pub fn key(&mut self, evdev: u32, pressed: bool) -> Result<Vec<KeyboardAction>, VirtualInputError> {
        if evdev > EVDEV_KEY_MAX {
            return Err(VirtualInputError::InvalidCommand(format!(
                "evdev key code {evdev:#x} is beyond KEY_MAX ({EVDEV_KEY_MAX:#x})"
            )));
        }
        let mut actions = Vec::new();
        let xkb_keycode = evdev + XKB_OFFSET;
        if pressed {
            self.press(xkb_keycode, &mut actions);
        } else {
            self.release(xkb_keycode, &mut actions);
            self.keysym_keys.retain(|_, k| *k != xkb_keycode);
        }
        Ok(actions)
    }

    /// Types a keysym: on the key and level of the current keymap that produce it, or on a
    /// spare key added to the keymap for it.
    pub fn keysym(&mut self, keysym: u32, pressed: bool) -> Result<Vec<KeyboardAction>, VirtualInputError> {
        let mut actions = Vec::new();
        if !pressed {
            if let Some(xkb_keycode) = self.keysym_keys.remove(&keysym) {
                self.release(xkb_keycode, &mut actions);
            }
            return Ok(actions);
        }
        if self.keysym_keys.contains_key(&keysym) {
            return Ok(actions); // auto-repeat of a keysym already down
        }
        if keysym == 0 || keysym > 0x1fff_ffff {
            return Err(VirtualInputError::Keysym {
                keysym,
                reason: "not a keysym (0 is NoSymbol; keysyms are 29 bits)".into(),
            });
        }
        let place = match self.find(keysym) {
            Some(place) => place,
            None => {
                self.add_extra(keysym, &mut actions)?;
                self.find(keysym).ok_or_else(|| VirtualInputError::Keysym {
                    keysym,
                    reason: "not found in the keymap it was just added to".into(),
                })?
            }
        };
        let already = self.state.key_get_layout(xkb::Keycode::new(place.xkb_keycode)) == place.layout
            && self
                .state
                .key_get_syms(xkb::Keycode::new(place.xkb_keycode))
                .iter()
                .any(|s| s.raw() == keysym);
        if self.held.contains(&place.xkb_keycode) {
            // The key is down already (pressed as a key, or for another keysym): pressing it
            // again would type nothing, and recording it would release it under its owner.
            return Ok(actions);
        }
        if already {
            self.press(place.xkb_keycode, &mut actions);
        } else {
            // The level's modifiers for this one press, then the real state again.
            let real = self.current_modifiers();
            let keep = !place.level_mods;
            let level = Modifiers {
                depressed: (real.depressed & keep) | place.mask,
                latched: real.latched & keep,
                locked: real.locked & keep,
                group: place.layout,
            };
            if self.sent != Some(level) {
                actions.push(KeyboardAction::Modifiers(level));
                self.sent = Some(level);
            }
            self.press(place.xkb_keycode, &mut actions);
        }
        self.keysym_keys.insert(keysym, place.xkb_keycode);
        Ok(actions)
    }

    /// Releases every pressed key and clears latched modifiers; locks (Caps/Num Lock) stay.
    /// What a client's disconnect needs: nothing stays pressed on the desktop.
    pub fn release_all(&mut self) -> Vec<KeyboardAction> {
        let mut actions = Vec::new();
        let held: Vec<u32> = self.held.iter().rev().copied().collect();
        for xkb_keycode in held {
            self.release(xkb_keycode, &mut actions);
        }
        self.keysym_keys.clear();
        let now = self.current_modifiers();
        if now.depressed != 0 || now.latched != 0 {
            self.state.update_mask(0, 0, now.locked, 0, 0, now.group);
        }
        self.sync_modifiers(&mut actions);
        actions
    }

    /// The modifiers as the keys pressed so far make them.
    pub fn current_modifiers(&self) -> Modifiers {
        Modifiers {
            depressed: self.state.serialize_mods(xkb::STATE_MODS_DEPRESSED),
            latched: self.state.serialize_mods(xkb::STATE_MODS_LATCHED),
            locked: self.state.serialize_mods(xkb::STATE_MODS_LOCKED),
            group: self.state.serialize_layout(xkb::STATE_LAYOUT_EFFECTIVE),
        }
    }

    fn press(&mut self, xkb_keycode: u32, actions: &mut Vec<KeyboardAction>) {
        if !self.held.insert(xkb_keycode) {
            return;
        }
        actions.push(KeyboardAction::Key {
            evdev: xkb_keycode - XKB_OFFSET,
            pressed: true,
        });
        self.state
            .update_key(xkb::Keycode::new(xkb_keycode), xkb::KeyDirection::Down);
        self.sync_modifiers(actions);
    }

    fn release(&mut self, xkb_keycode: u32, actions: &mut Vec<KeyboardAction>) {
        if !self.held.remove(&xkb_keycode) {
            return;
        }
        actions.push(KeyboardAction::Key {
            evdev: xkb_keycode - XKB_OFFSET,
            pressed: false,
        });
        self.state
            .update_key(xkb::Keycode::new(xkb_keycode), xkb::KeyDirection::Up);
        self.sync_modifiers(actions);
    }

    fn sync_modifiers(&mut self, actions: &mut Vec<KeyboardAction>) {
        let now = self.current_modifiers();
        if self.sent != Some(now) {
            actions.push(KeyboardAction::Modifiers(now));
            self.sent = Some(now);
        }
    }

    /// The best place of `keysym` in the current keymap: the current layout before others, the
    /// lowest level, then the lowest keycode (main block before keypad and extra keys).
    fn find(&self, keysym: u32) -> Option<KeysymPlace> {
        let active_layout = self.state.serialize_layout(xkb::STATE_LAYOUT_EFFECTIVE);
        let mut best: Option<((bool, u32, u32), KeysymPlace)> = None;
        let min = self.keymap.min_keycode().raw();
        let max = self.keymap.max_keycode().raw().min(XKB_X11_MAX);
        for code in min..=max {
            let kc = xkb::Keycode::new(code);
            for layout in 0..self.keymap.num_layouts_for_key(kc) {
                let levels = self.keymap.num_levels_for_key(kc, layout);
                for level in 0..levels {
                    let syms = self.keymap.key_get_syms_by_level(kc, layout, level);
                    if syms.len() != 1 || syms[0].raw() != keysym {
                        continue;
                    }
                    let Some(mask) = self.level_mask(kc, layout, level) else {
                        continue; // a level no modifier combination reaches
                    };
                    let rank = (layout != active_layout, level, code);
                    if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                        let level_mods = (0..levels)
                            .flat_map(|l| self.level_masks(kc, layout, l))
                            .fold(0, |acc, m| acc | m);
                        best = Some((
                            rank,
                            KeysymPlace {
                                xkb_keycode: code,
                                layout,
                                mask,
                                level_mods,
                            },
                        ));
                    }
                }
            }
        }
        best.map(|(_, place)| place)
    }

    fn level_masks(&self, kc: xkb::Keycode, layout: u32, level: u32) -> Vec<u32> {
        let mut masks = [0u32; 16];
        let n = self.keymap.key_get_mods_for_level(kc, layout, level, &mut masks);
        masks[..n.min(masks.len())].to_vec()
    }

    /// The modifiers to hold for `level`: the fewest, and Caps Lock only if nothing else does.
    fn level_mask(&self, kc: xkb::Keycode, layout: u32, level: u32) -> Option<u32> {
        let lock = 1u32 << self.keymap.mod_get_index(xkb::MOD_NAME_CAPS);
        let masks = self.level_masks(kc, layout, level);
        if masks.is_empty() && level == 0 {
            return Some(0);
        }
        masks.into_iter().min_by_key(|m| (m & lock != 0, m.count_ones()))
    }

    /// Gives `keysym` a spare keycode: one the layout leaves without symbols. When none is left,
    /// the extra keysyms not pressed right now are dropped first.
    fn add_extra(&mut self, keysym: u32, actions: &mut Vec<KeyboardAction>) -> Result<(), VirtualInputError> {
        let spare = match self.spare_keycode() {
            Some(spare) => spare,
            None => {
                let held = &self.held;
                self.extras.retain(|e| held.contains(&e.xkb_keycode));
                self.spare_keycode().ok_or_else(|| VirtualInputError::Keysym {
                    keysym,
                    reason: "no spare keycode left in the keymap".into(),
                })?
            }
        };
        let (xkb_keycode, name, declare) = spare;
        self.extras.push(ExtraKey {
            xkb_keycode,
            name,
            declare,
            keysym,
        });
        let compiled = extend_keymap_text(&self.layout_text, &self.extras)
            .map_err(|reason| format!("cannot extend the keymap: {reason}"))
            .and_then(|text| match compile_text(&self.context, &text) {
                Some(keymap) => Ok((text, keymap)),
                None => Err("the keymap with this keysym added does not compile".to_owned()),
            });
        let (text, keymap) = match compiled {
            Ok(compiled) => compiled,
            Err(reason) => {
                self.extras.pop();
                return Err(VirtualInputError::Keysym { keysym, reason });
            }
        };
        // A fresh state with the same keys down and the same locks (what wlroots does on its
        // side when a keyboard's keymap changes).
        let before = self.current_modifiers();
        let mut state = xkb::State::new(&keymap);
        for &code in &self.held {
            state.update_key(xkb::Keycode::new(code), xkb::KeyDirection::Down);
        }
        let now_depressed = state.serialize_mods(xkb::STATE_MODS_DEPRESSED);
        state.update_mask(now_depressed, before.latched, before.locked, 0, 0, before.group);
        self.state = state;
        self.keymap = keymap;
        actions.push(KeyboardAction::Keymap(text));
        self.sent = None;
        self.sync_modifiers(actions);
        Ok(())
    }

    /// The highest keycode (≤ 255) without symbols in the layout and not taken by an extra.
    fn spare_keycode(&self) -> Option<(u32, String, bool)> {
        let layout = &self.layout;
        let taken: BTreeMap<u32, ()> = self.extras.iter().map(|e| (e.xkb_keycode, ())).collect();
        let min = layout.min_keycode().raw().max(XKB_OFFSET + 1);
        let max = layout.max_keycode().raw().min(XKB_X11_MAX);
        (min..=max).rev().find_map(|code| {
            let kc = xkb::Keycode::new(code);
            if taken.contains_key(&code) || layout.num_layouts_for_key(kc) > 0 {
                return None;
            }
            Some(match layout.key_get_name(kc) {
                Some(name) => (code, name.to_owned(), false),
                None => (code, format!("WRD{code}"), true),
            })
        })
    }
}

/// The text of `layout` with `extras` added: their names declared in `xkb_keycodes` where the
/// layout does not name the code, and one symbol each in `xkb_symbols`.
fn extend_keymap_text(layout: &str, extras: &[ExtraKey]) -> Result<String, String> {
    let mut declarations = String::new();
    let mut symbols = String::new();
    for extra in extras {
        if extra.declare {
            declarations.push_str(&format!("\t<{}> = {};\n", extra.name, extra.xkb_keycode));
        }
        let name = xkb::keysym_get_name(xkb::Keysym::new(extra.keysym));
        symbols.push_str(&format!("\tkey <{}> {{ [ {} ] }};\n", extra.name, name));
    }
    let with_codes = insert_at_section_end(layout, "xkb_keycodes", &declarations)?;
    insert_at_section_end(&with_codes, "xkb_symbols", &symbols)
}

/// Inserts `lines` before the `};` that closes the top-level section `section` (libxkbcommon
/// writes a section's closing brace at the start of a line, everything inside it indented).
fn insert_at_section_end(text: &str, section: &str, lines: &str) -> Result<String, String> {
    let start = text
        .find(&format!("{section} "))
        .ok_or_else(|| format!("no {section} section"))?;
    let end = text[start..]
        .find("\n};")
        .map(|i| start + i + 1)
        .ok_or_else(|| format!("the {section} section does not end"))?;
    let mut out = String::with_capacity(text.len() + lines.len());
    out.push_str(&text[..end]);
    out.push_str(lines);
    out.push_str(&text[end..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const KEY_Y: u32 = 21;
    const KEY_E: u32 = 18;
    const KEY_A: u32 = 30;
    const KEY_MINUS: u32 = 12;
    const KEY_LEFTSHIFT: u32 = 42;
    const KEY_LEFTCTRL: u32 = 29;
    const KEY_RIGHTALT: u32 = 100;
    const SHIFT: u32 = 1;
    const CTRL: u32 = 4;

    fn model(layout: &str) -> KeyboardModel {
        KeyboardModel::new(&KeymapNames::new(layout, "")).unwrap().0
    }

    /// What a client would type from these actions: it keeps its own xkb state from the
    /// keymaps and modifiers it is sent and looks each pressed key up, as foot does.
    fn typed(actions: &[KeyboardAction]) -> String {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let mut state: Option<xkb::State> = None;
        let mut text = String::new();
        for action in actions {
            match action {
                KeyboardAction::Keymap(t) => {
                    state = Some(xkb::State::new(&compile_text(&context, t).unwrap()));
                }
                KeyboardAction::Modifiers(m) => {
                    let s = state.as_mut().expect("modifiers before a keymap");
                    s.update_mask(m.depressed, m.latched, m.locked, 0, 0, m.group);
                }
                KeyboardAction::Key { evdev, pressed: true } => {
                    let s = state.as_ref().expect("a key before a keymap");
                    text.push_str(&s.key_get_utf8(xkb::Keycode::new(evdev + 8)));
                }
                KeyboardAction::Key { .. } => {}
            }
        }
        text
    }

    fn type_keysyms(model: &mut KeyboardModel, text: &str, actions: &mut Vec<KeyboardAction>) {
        for c in text.chars() {
            let sym = xkb::utf32_to_keysym(c as u32).raw();
            actions.extend(model.keysym(sym, true).unwrap());
            actions.extend(model.keysym(sym, false).unwrap());
        }
    }

    #[test]
    fn the_keymap_goes_out_before_anything_else() {
        let (_, actions) = KeyboardModel::new(&KeymapNames::default()).unwrap();
        assert!(matches!(&actions[0], KeyboardAction::Keymap(t) if t.contains("xkb_symbols")));
        assert_eq!(actions[1], KeyboardAction::Modifiers(Modifiers::default()));
    }

    #[test]
    fn unknown_layouts_and_odd_names_are_refused_with_the_names() {
        let err = KeyboardModel::new(&KeymapNames::new("no-such-layout", "")).unwrap_err();
        assert!(err.to_string().contains("no-such-layout"), "{err}");
        let err = KeyboardModel::new(&KeymapNames::new("us\0", "")).unwrap_err();
        assert!(err.to_string().contains("letters"), "{err}");
        let mut us = model("us");
        assert!(us.set_keymap(&KeymapNames::new("xx", "yy")).is_err());
        assert_eq!(us.names.layout, "us", "a failed change keeps the layout");
    }

    #[test]
    fn shift_is_sent_as_modifiers_and_released_with_the_key() {
        let mut us = model("us");
        let mut actions = KeyboardModel::new(&KeymapNames::default()).unwrap().1;
        actions.extend(us.key(KEY_LEFTSHIFT, true).unwrap());
        assert_eq!(us.current_modifiers().depressed, SHIFT);
        assert!(actions.contains(&KeyboardAction::Modifiers(Modifiers {
            depressed: SHIFT,
            ..Default::default()
        })));
        actions.extend(us.key(KEY_A, true).unwrap());
        actions.extend(us.key(KEY_A, false).unwrap());
        actions.extend(us.key(KEY_LEFTSHIFT, false).unwrap());
        actions.extend(us.key(KEY_A, true).unwrap());
        assert_eq!(typed(&actions), "Aa");
        assert_eq!(us.current_modifiers().depressed, 0);
    }

    #[test]
    fn repeats_and_unmatched_releases_send_nothing() {
        let mut us = model("us");
        assert_eq!(us.key(KEY_A, true).unwrap().len(), 1);
        assert!(us.key(KEY_A, true).unwrap().is_empty());
        assert_eq!(us.key(KEY_A, false).unwrap().len(), 1);
        assert!(us.key(KEY_A, false).unwrap().is_empty());
        assert!(us.keysym(0x61, false).unwrap().is_empty());
        assert!(us.key(EVDEV_KEY_MAX + 1, true).is_err());
        assert!(us.keysym(0, true).is_err());
    }

    #[test]
    fn release_all_releases_every_key_and_clears_the_modifiers() {
        let mut us = model("us");
        let mut actions = KeyboardModel::new(&KeymapNames::default()).unwrap().1;
        actions.extend(us.key(KEY_LEFTSHIFT, true).unwrap());
        actions.extend(us.key(KEY_LEFTCTRL, true).unwrap());
        actions.extend(us.keysym(0x20ac, true).unwrap()); // € on a spare key
        assert_eq!(us.current_modifiers().depressed, SHIFT | CTRL);
        let released = us.release_all();
        assert!(us.held.is_empty());
        let releases: Vec<u32> = released
            .iter()
            .filter_map(|a| match a {
                KeyboardAction::Key {
                    evdev,
                    pressed: false,
                } => Some(*evdev),
                _ => None,
            })
            .collect();
        assert_eq!(releases.len(), 3, "{released:?}");
        assert!(releases.contains(&KEY_LEFTSHIFT) && releases.contains(&KEY_LEFTCTRL));
        assert_eq!(
            released.last(),
            Some(&KeyboardAction::Modifiers(Modifiers::default()))
        );
        actions.extend(released);
        actions.extend(us.key(KEY_A, true).unwrap());
        assert!(typed(&actions).ends_with('a'));
    }

    #[test]
    fn german_layout_swaps_y_and_z_and_has_sharp_s() {
        let mut de = model("de");
        let mut actions = KeyboardModel::new(&KeymapNames::new("de", "")).unwrap().1;
        for key in [KEY_Y, KEY_MINUS] {
            actions.extend(de.key(key, true).unwrap());
            actions.extend(de.key(key, false).unwrap());
        }
        assert_eq!(typed(&actions), "zß");
    }

    #[test]
    fn keysyms_use_the_layout_levels_shift_and_altgr() {
        let mut de = model("de");
        let mut actions = KeyboardModel::new(&KeymapNames::new("de", "")).unwrap().1;
        type_keysyms(&mut de, "Zäö€@ A", &mut actions);
        assert_eq!(typed(&actions), "Zäö€@ A");
        // No keymap but the first: every one of these is on the German layout.
        let keymaps = actions
            .iter()
            .filter(|a| matches!(a, KeyboardAction::Keymap(_)))
            .count();
        assert_eq!(keymaps, 1);
        // The real state is back after each typed keysym.
        assert_eq!(de.current_modifiers(), Modifiers::default());
        // € is AltGr+e on German keyboards: the level's modifiers went out for it.
        let euro_at = actions
            .iter()
            .position(|a| {
                *a == KeyboardAction::Key {
                    evdev: KEY_E,
                    pressed: true,
                }
            })
            .unwrap();
        assert!(matches!(actions[euro_at - 1], KeyboardAction::Modifiers(m) if m.depressed != 0));
    }

    #[test]
    fn keysyms_beyond_the_layout_get_spare_keys_and_normal_keys_stay() {
        let mut us = model("us");
        let mut actions = KeyboardModel::new(&KeymapNames::default()).unwrap().1;
        type_keysyms(&mut us, "äöü ß € 😀 äöü", &mut actions);
        assert_eq!(typed(&actions), "äöü ß € 😀 äöü");
        // One upload per new keysym (ä ö ü ß € 😀), none for a keysym already added.
        let keymaps = actions
            .iter()
            .filter(|a| matches!(a, KeyboardAction::Keymap(_)))
            .count();
        assert_eq!(keymaps, 1 + 6);
        // The layout's own keys type what they did before.
        actions.extend(us.key(KEY_Y, true).unwrap());
        actions.extend(us.key(KEY_Y, false).unwrap());
        actions.extend(us.key(KEY_LEFTSHIFT, true).unwrap());
        actions.extend(us.key(KEY_A, true).unwrap());
        assert!(typed(&actions).ends_with("yA"), "{}", typed(&actions));
    }

    #[test]
    fn more_keysyms_than_spare_keys_reuse_them() {
        let mut us = model("us");
        let mut actions = KeyboardModel::new(&KeymapNames::default()).unwrap().1;
        // The 33 Cyrillic small letters: more than the layout has keys without symbols (the
        // last of which the layout does not even name).
        let text: String = ('а'..='я').chain(['ё']).collect();
        type_keysyms(&mut us, &text, &mut actions);
        type_keysyms(&mut us, &text, &mut actions);
        assert_eq!(typed(&actions), format!("{text}{text}"));
    }

    #[test]
    fn a_keysym_held_across_a_keymap_upload_is_released_on_its_key() {
        let mut us = model("us");
        let press = us.keysym(0xe4, true).unwrap(); // ä
        let key = press
            .iter()
            .find_map(|a| match a {
                KeyboardAction::Key { evdev, pressed: true } => Some(*evdev),
                _ => None,
            })
            .unwrap();
        us.keysym(0xf6, true).unwrap(); // ö: another upload while ä is down
        let release = us.keysym(0xe4, false).unwrap();
        assert_eq!(
            release[0],
            KeyboardAction::Key {
                evdev: key,
                pressed: false
            }
        );
    }

    #[test]
    fn altgr_held_by_the_client_is_tracked_like_any_modifier() {
        let mut de = model("de");
        let mut actions = KeyboardModel::new(&KeymapNames::new("de", "")).unwrap().1;
        actions.extend(de.key(KEY_RIGHTALT, true).unwrap());
        actions.extend(de.key(KEY_E, true).unwrap());
        assert_eq!(typed(&actions), "€");
    }
}
