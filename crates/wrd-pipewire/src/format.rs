//! SPA pods: the formats, buffers and metadata a consumer stream asks for, and parsing of the
//! negotiated format. Sans-I/O: pods are bytes; tests build them and parse them back.

use pipewire::spa;
use spa::param::ParamType;
use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
use spa::param::video::VideoFormat;
use spa::pod::serialize::PodSerializer;
use spa::pod::{ChoiceValue, Object, Property, PropertyFlags, Value};
use spa::sys as spa_sys;
use spa::utils::{Choice, ChoiceEnum, ChoiceFlags, Fraction, Id, Rectangle, SpaTypes};
use wrd_frame::PixelFormat;

use crate::{MemoryKind, StreamConfig, VideoFormatInfo};

/// `DRM_FORMAT_MOD_LINEAR`: the only modifier we can read with the CPU.
pub const MODIFIER_LINEAR: u64 = 0;
/// `DRM_FORMAT_MOD_INVALID`: "implicit modifier", never offered.
pub const MODIFIER_INVALID: u64 = 0x00ff_ffff_ffff_ffff;

pub fn spa_format(f: PixelFormat) -> VideoFormat {
    match f {
        PixelFormat::Bgrx => VideoFormat::BGRx,
        PixelFormat::Bgra => VideoFormat::BGRA,
        PixelFormat::Rgbx => VideoFormat::RGBx,
        PixelFormat::Rgba => VideoFormat::RGBA,
        PixelFormat::Xrgb => VideoFormat::xRGB,
        PixelFormat::Argb => VideoFormat::ARGB,
        PixelFormat::Xbgr => VideoFormat::xBGR,
        PixelFormat::Abgr => VideoFormat::ABGR,
    }
}

pub fn pixel_format(raw: u32) -> Option<PixelFormat> {
    let f = VideoFormat::from_raw(raw);
    Some(match f {
        VideoFormat::BGRx => PixelFormat::Bgrx,
        VideoFormat::BGRA => PixelFormat::Bgra,
        VideoFormat::RGBx => PixelFormat::Rgbx,
        VideoFormat::RGBA => PixelFormat::Rgba,
        VideoFormat::xRGB => PixelFormat::Xrgb,
        VideoFormat::ARGB => PixelFormat::Argb,
        VideoFormat::xBGR => PixelFormat::Xbgr,
        VideoFormat::ABGR => PixelFormat::Abgr,
        _ => return None,
    })
}

fn prop(key: FormatProperties, value: Value) -> Property {
    Property::new(key.as_raw(), value)
}

fn id(v: u32) -> Value {
    Value::Id(Id(v))
}

fn rect(w: u32, h: u32) -> Rectangle {
    Rectangle { width: w, height: h }
}

fn frac(num: u32, denom: u32) -> Fraction {
    Fraction { num, denom }
}

fn range<T>(default: T, min: T, max: T) -> ChoiceEnum<T>
where
    T: spa::pod::CanonicalFixedSizedPod,
{
    ChoiceEnum::Range { default, min, max }
}

/// One `EnumFormat` object: raw video, the configured formats, size and frame-rate ranges;
/// with `modifier`, a MANDATORY modifier property (DMA-BUF).
pub fn enum_format_object(cfg: &StreamConfig, modifier: Option<u64>) -> Object {
    let formats: Vec<Id> = cfg
        .offered_formats()
        .into_iter()
        .map(|f| Id(spa_format(f).as_raw()))
        .collect();
    let default = formats.first().copied().unwrap_or(Id(VideoFormat::BGRx.as_raw()));
    let (pw, ph) = cfg.preferred_size;
    let (minw, minh) = cfg.min_size;
    let (maxw, maxh) = cfg.max_size;
    let pref = rect(pw.clamp(minw, maxw), ph.clamp(minh, maxh));
    let maxfps = cfg.max_framerate;
    let mut properties = vec![
        prop(FormatProperties::MediaType, id(MediaType::Video.as_raw())),
        prop(FormatProperties::MediaSubtype, id(MediaSubtype::Raw.as_raw())),
        prop(
            FormatProperties::VideoFormat,
            Value::Choice(ChoiceValue::Id(Choice(
                ChoiceFlags::empty(),
                ChoiceEnum::Enum {
                    default,
                    alternatives: formats,
                },
            ))),
        ),
        prop(
            FormatProperties::VideoSize,
            match cfg.fixed_size {
                // A plain value, no choice: the producer's range must contain it.
                Some((w, h)) => Value::Rectangle(rect(w, h)),
                None => Value::Choice(ChoiceValue::Rectangle(Choice(
                    ChoiceFlags::empty(),
                    range(pref, rect(minw, minh), rect(maxw, maxh)),
                ))),
            },
        ),
        // variable frame rate (0/1) with a maximum, or any fixed rate up to the maximum
        prop(
            FormatProperties::VideoFramerate,
            Value::Choice(ChoiceValue::Fraction(Choice(
                ChoiceFlags::empty(),
                range(frac(0, 1), frac(0, 1), frac(maxfps, 1)),
            ))),
        ),
        prop(
            FormatProperties::VideoMaxFramerate,
            Value::Choice(ChoiceValue::Fraction(Choice(
                ChoiceFlags::empty(),
                range(frac(maxfps, 1), frac(1, 1), frac(maxfps, 1)),
            ))),
        ),
    ];
    if let Some(m) = modifier {
        let i = i64::from_ne_bytes(m.to_ne_bytes());
        properties.push(Property {
            key: FormatProperties::VideoModifier.as_raw(),
            flags: PropertyFlags::MANDATORY | PropertyFlags::DONT_FIXATE,
            value: Value::Choice(ChoiceValue::Long(Choice(
                ChoiceFlags::empty(),
                ChoiceEnum::Enum {
                    default: i,
                    alternatives: vec![i],
                },
            ))),
        });
    }
    Object {
        type_: SpaTypes::ObjectParamFormat.as_raw(),
        id: ParamType::EnumFormat.as_raw(),
        properties,
    }
}

/// The `EnumFormat` pods a consumer offers, most preferred first: plain memory always, then
/// (if allowed) DMA-BUF with the LINEAR modifier.
pub fn consumer_enum_formats(cfg: &StreamConfig) -> Result<Vec<Vec<u8>>, String> {
    let mut out = vec![serialize(enum_format_object(cfg, None))?];
    if cfg.allow_dmabuf {
        out.push(serialize(enum_format_object(cfg, Some(MODIFIER_LINEAR)))?);
    }
    Ok(out)
}

pub fn serialize(obj: Object) -> Result<Vec<u8>, String> {
    PodSerializer::serialize(std::io::Cursor::new(Vec::new()), &Value::Object(obj))
        .map(|(c, _)| c.into_inner())
        .map_err(|e| format!("serializing a pod: {e:?}"))
}

/// `sizeof(struct spa_meta_region)`.
pub const META_REGION_SIZE: usize = std::mem::size_of::<spa_sys::spa_meta_region>();
/// Damage regions asked for per buffer.
pub const DAMAGE_REGIONS: usize = 16;

/// Size of the cursor metadata for a `w`x`h` 32-bit bitmap (`CURSOR_META_SIZE` in PipeWire
/// examples).
pub fn cursor_meta_size(w: u32, h: u32) -> usize {
    std::mem::size_of::<spa_sys::spa_meta_cursor>()
        + std::mem::size_of::<spa_sys::spa_meta_bitmap>()
        + (w as usize) * (h as usize) * 4
}

fn int(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn meta_object(meta_type: u32, size: Value) -> Object {
    Object {
        type_: SpaTypes::ObjectParamMeta.as_raw(),
        id: ParamType::Meta.as_raw(),
        properties: vec![
            Property::new(spa_sys::SPA_PARAM_META_type, id(meta_type)),
            Property::new(spa_sys::SPA_PARAM_META_size, size),
        ],
    }
}

/// The `Buffers` and `Meta` params a consumer sends once a format is fixed: buffer count,
/// one block, the memory types it can read, and header, damage and cursor metadata.
pub fn consumer_buffer_params(cfg: &StreamConfig, dmabuf: bool) -> Result<Vec<Vec<u8>>, String> {
    let mask: i32 = if dmabuf {
        1 << spa_sys::SPA_DATA_DmaBuf
    } else {
        (1 << spa_sys::SPA_DATA_MemFd) | (1 << spa_sys::SPA_DATA_MemPtr)
    };
    let n = i32::try_from(cfg.buffers).unwrap_or(4);
    let buffers = Object {
        type_: SpaTypes::ObjectParamBuffers.as_raw(),
        id: ParamType::Buffers.as_raw(),
        properties: vec![
            Property::new(
                spa_sys::SPA_PARAM_BUFFERS_buffers,
                Value::Choice(ChoiceValue::Int(Choice(
                    ChoiceFlags::empty(),
                    range(n, n.min(2), n.max(16)),
                ))),
            ),
            Property::new(spa_sys::SPA_PARAM_BUFFERS_blocks, Value::Int(1)),
            Property::new(
                spa_sys::SPA_PARAM_BUFFERS_dataType,
                Value::Choice(ChoiceValue::Int(Choice(
                    ChoiceFlags::empty(),
                    ChoiceEnum::Flags {
                        default: mask,
                        flags: vec![],
                    },
                ))),
            ),
        ],
    };
    let header = meta_object(
        spa_sys::SPA_META_Header,
        Value::Int(int(std::mem::size_of::<spa_sys::spa_meta_header>())),
    );
    let damage = meta_object(
        spa_sys::SPA_META_VideoDamage,
        Value::Choice(ChoiceValue::Int(Choice(
            ChoiceFlags::empty(),
            range(
                int(META_REGION_SIZE * DAMAGE_REGIONS),
                int(META_REGION_SIZE),
                int(META_REGION_SIZE * DAMAGE_REGIONS),
            ),
        ))),
    );
    let (cw, ch) = cfg.max_cursor_size;
    let cursor = meta_object(
        spa_sys::SPA_META_Cursor,
        Value::Choice(ChoiceValue::Int(Choice(
            ChoiceFlags::empty(),
            range(
                int(cursor_meta_size(64, 64).min(cursor_meta_size(cw, ch))),
                int(cursor_meta_size(1, 1)),
                int(cursor_meta_size(cw, ch)),
            ),
        ))),
    );
    [buffers, header, damage, cursor]
        .into_iter()
        .map(serialize)
        .collect()
}

/// The memory a negotiated format implies.
pub fn memory_for(info: &VideoFormatInfo) -> MemoryKind {
    if info.modifier.is_some() {
        MemoryKind::DmaBuf
    } else {
        MemoryKind::MemFd
    }
}

fn fixed_id(v: &Value) -> Option<u32> {
    match v {
        Value::Id(Id(x)) => Some(*x),
        Value::Choice(ChoiceValue::Id(Choice(_, c))) => choice_default(c).map(|i| i.0),
        _ => None,
    }
}

fn fixed_rect(v: &Value) -> Option<Rectangle> {
    match v {
        Value::Rectangle(r) => Some(*r),
        Value::Choice(ChoiceValue::Rectangle(Choice(_, c))) => choice_default(c),
        _ => None,
    }
}

fn fixed_frac(v: &Value) -> Option<Fraction> {
    match v {
        Value::Fraction(f) => Some(*f),
        Value::Choice(ChoiceValue::Fraction(Choice(_, c))) => choice_default(c),
        _ => None,
    }
}

fn fixed_long(v: &Value) -> Option<i64> {
    match v {
        Value::Long(l) => Some(*l),
        Value::Choice(ChoiceValue::Long(Choice(_, c))) => choice_default(c),
        _ => None,
    }
}

fn choice_default<T: spa::pod::CanonicalFixedSizedPod + Copy>(c: &ChoiceEnum<T>) -> Option<T> {
    Some(match c {
        ChoiceEnum::None(v) => *v,
        ChoiceEnum::Range { default, .. }
        | ChoiceEnum::Step { default, .. }
        | ChoiceEnum::Enum { default, .. }
        | ChoiceEnum::Flags { default, .. } => *default,
    })
}

/// Why a negotiated format was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatRejected {
    /// Not a video/raw format object (ignored quietly).
    NotRawVideo,
    Unsupported(String),
}

/// Parses a negotiated `Format` pod.
pub fn parse_format(bytes: &[u8]) -> Result<VideoFormatInfo, FormatRejected> {
    let (_, value) = spa::pod::deserialize::PodDeserializer::deserialize_any_from(bytes)
        .map_err(|e| FormatRejected::Unsupported(format!("undecodable format pod: {e:?}")))?;
    let Value::Object(obj) = value else {
        return Err(FormatRejected::NotRawVideo);
    };
    let get = |k: FormatProperties| {
        obj.properties
            .iter()
            .find(|p| p.key == k.as_raw())
            .map(|p| &p.value)
    };
    let media_type = get(FormatProperties::MediaType).and_then(fixed_id);
    let media_subtype = get(FormatProperties::MediaSubtype).and_then(fixed_id);
    if media_type != Some(MediaType::Video.as_raw()) || media_subtype != Some(MediaSubtype::Raw.as_raw()) {
        return Err(FormatRejected::NotRawVideo);
    }
    let raw_format = get(FormatProperties::VideoFormat)
        .and_then(fixed_id)
        .ok_or_else(|| FormatRejected::Unsupported("no video format".into()))?;
    let format = pixel_format(raw_format).ok_or_else(|| {
        FormatRejected::Unsupported(format!(
            "video format {:?} is not a 32-bit RGB format",
            VideoFormat::from_raw(raw_format)
        ))
    })?;
    let size = get(FormatProperties::VideoSize)
        .and_then(fixed_rect)
        .ok_or_else(|| FormatRejected::Unsupported("no video size".into()))?;
    if size.width == 0 || size.height == 0 {
        return Err(FormatRejected::Unsupported(format!(
            "video size {}x{}",
            size.width, size.height
        )));
    }
    let framerate = get(FormatProperties::VideoFramerate)
        .and_then(fixed_frac)
        .unwrap_or(frac(0, 1));
    let max_framerate = get(FormatProperties::VideoMaxFramerate)
        .and_then(fixed_frac)
        .unwrap_or(framerate);
    let modifier = get(FormatProperties::VideoModifier)
        .and_then(fixed_long)
        .map(|l| u64::from_ne_bytes(l.to_ne_bytes()));
    if let Some(m) = modifier
        && m != MODIFIER_LINEAR
    {
        return Err(FormatRejected::Unsupported(format!(
            "modifier {m:#x} is not LINEAR: the CPU cannot read it"
        )));
    }
    Ok(VideoFormatInfo {
        format,
        width: size.width,
        height: size.height,
        framerate: (framerate.num, framerate.denom),
        max_framerate: (max_framerate.num, max_framerate.denom),
        modifier,
    })
}

/// A fixed `Format`-like pod (what a producer offers: one format, one size), for the test
/// source and for tests of [`parse_format`].
pub fn fixed_format_object(
    format: PixelFormat,
    width: u32,
    height: u32,
    max_framerate: u32,
    modifier: Option<u64>,
    param: ParamType,
) -> Object {
    let mut properties = vec![
        prop(FormatProperties::MediaType, id(MediaType::Video.as_raw())),
        prop(FormatProperties::MediaSubtype, id(MediaSubtype::Raw.as_raw())),
        prop(FormatProperties::VideoFormat, id(spa_format(format).as_raw())),
        prop(FormatProperties::VideoSize, Value::Rectangle(rect(width, height))),
        prop(FormatProperties::VideoFramerate, Value::Fraction(frac(0, 1))),
        prop(
            FormatProperties::VideoMaxFramerate,
            Value::Choice(ChoiceValue::Fraction(Choice(
                ChoiceFlags::empty(),
                range(frac(max_framerate, 1), frac(1, 1), frac(max_framerate, 1)),
            ))),
        ),
    ];
    if let Some(m) = modifier {
        properties.push(Property {
            key: FormatProperties::VideoModifier.as_raw(),
            flags: PropertyFlags::MANDATORY,
            value: Value::Long(i64::from_ne_bytes(m.to_ne_bytes())),
        });
    }
    Object {
        type_: SpaTypes::ObjectParamFormat.as_raw(),
        id: param.as_raw(),
        properties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_formats_round_trip() {
        let cfg = StreamConfig::default();
        let pods = consumer_enum_formats(&cfg).unwrap();
        assert_eq!(pods.len(), 2);
        // the first pod carries no modifier, the second LINEAR
        let a = parse_format(&pods[0]).unwrap();
        assert_eq!(a.format, PixelFormat::Bgrx);
        assert_eq!((a.width, a.height), (1920, 1080));
        assert_eq!(a.framerate, (0, 1));
        assert_eq!(a.max_framerate, (60, 1));
        assert_eq!(a.modifier, None);
        let b = parse_format(&pods[1]).unwrap();
        assert_eq!(b.modifier, Some(MODIFIER_LINEAR));

        let no_dmabuf = StreamConfig {
            allow_dmabuf: false,
            ..StreamConfig::default()
        };
        assert_eq!(consumer_enum_formats(&no_dmabuf).unwrap().len(), 1);
    }

    /// The `VideoSize` property of an `EnumFormat` pod.
    fn offered_size(bytes: &[u8]) -> Value {
        let (_, value) = spa::pod::deserialize::PodDeserializer::deserialize_any_from(bytes).unwrap();
        let Value::Object(object) = value else {
            panic!("not an object: {value:?}");
        };
        object
            .properties
            .into_iter()
            .find(|p| p.key == FormatProperties::VideoSize.as_raw())
            .unwrap()
            .value
    }

    #[test]
    fn a_fixed_size_is_offered_alone() {
        let cfg = StreamConfig {
            fixed_size: Some((1280, 720)),
            ..StreamConfig::default()
        };
        let pods = consumer_enum_formats(&cfg).unwrap();
        assert_eq!(pods.len(), 2);
        for pod in &pods {
            assert_eq!(offered_size(pod), Value::Rectangle(rect(1280, 720)));
            let info = parse_format(pod).unwrap();
            assert_eq!((info.width, info.height), (1280, 720));
        }
        // Without it: the range, the preferred size as its default.
        let ranged = consumer_enum_formats(&StreamConfig::default()).unwrap();
        assert_eq!(
            offered_size(&ranged[0]),
            Value::Choice(ChoiceValue::Rectangle(Choice(
                ChoiceFlags::empty(),
                range(rect(1920, 1080), rect(1, 1), rect(8192, 8192)),
            )))
        );
    }

    #[test]
    fn fixed_sizes_are_validated() {
        let sized = |w, h| StreamConfig {
            fixed_size: Some((w, h)),
            ..StreamConfig::default()
        };
        assert!(sized(1600, 900).validate().is_ok());
        assert!(sized(0, 900).validate().unwrap_err().contains("fixed size 0x900"));
        assert!(sized(1600, 20000).validate().is_err());
    }

    #[test]
    fn every_format_maps_both_ways() {
        for f in crate::ALL_FORMATS {
            assert_eq!(pixel_format(spa_format(f).as_raw()), Some(f));
        }
        assert_eq!(pixel_format(VideoFormat::I420.as_raw()), None);
    }

    #[test]
    fn fixed_formats_parse_and_tiled_modifiers_are_refused() {
        for f in crate::ALL_FORMATS {
            let pod = serialize(fixed_format_object(f, 640, 480, 30, None, ParamType::Format)).unwrap();
            let info = parse_format(&pod).unwrap();
            assert_eq!((info.format, info.width, info.height), (f, 640, 480));
            assert_eq!(info.max_framerate, (30, 1));
        }
        let tiled = serialize(fixed_format_object(
            PixelFormat::Bgra,
            64,
            64,
            30,
            Some(0x0100_0000_0000_0001),
            ParamType::Format,
        ))
        .unwrap();
        assert!(matches!(
            parse_format(&tiled),
            Err(FormatRejected::Unsupported(_))
        ));
        let linear = serialize(fixed_format_object(
            PixelFormat::Bgra,
            64,
            64,
            30,
            Some(MODIFIER_LINEAR),
            ParamType::Format,
        ))
        .unwrap();
        assert_eq!(parse_format(&linear).unwrap().modifier, Some(0));
    }

    #[test]
    fn buffer_params_serialize() {
        let p = consumer_buffer_params(&StreamConfig::default(), false).unwrap();
        assert_eq!(p.len(), 4);
        for bytes in &p {
            assert!(spa::pod::Pod::from_bytes(bytes).is_some());
        }
    }
}
