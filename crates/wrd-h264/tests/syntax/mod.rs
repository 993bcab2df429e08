//! Just enough of H.264's syntax (ITU-T H.264 7.3) to read, from an Annex-B stream, what each
//! slice header says about the deblocking filter: the one field of the bitstream that shows
//! whether the encoder ran with the filter on. Covers what openh264 writes (one slice group,
//! no scaling matrices, no weighted prediction); anything else is a panic, not a guess.

/// `disable_deblocking_filter_idc` of every slice in `annex_b`, in order: 0 = on, 1 = off,
/// 2 = on except across slice edges. SPS and PPS must come before the slices that use them.
pub fn deblocking_idcs(annex_b: &[u8]) -> Vec<u32> {
    let mut sps = None;
    let mut pps = None;
    let mut idcs = Vec::new();
    for nal in nal_units(annex_b) {
        let header = nal[0];
        let (nal_ref_idc, nal_type) = (header >> 5 & 3, header & 0x1f);
        let rbsp = unescape(&nal[1..]);
        let mut r = Bits::new(&rbsp);
        match nal_type {
            7 => sps = Some(Sps::read(&mut r)),
            8 => pps = Some(Pps::read(&mut r)),
            1 | 5 => {
                let sps = sps.as_ref().expect("a slice before any SPS");
                let pps = pps.as_ref().expect("a slice before any PPS");
                idcs.push(slice_deblocking_idc(&mut r, sps, pps, nal_type == 5, nal_ref_idc));
            }
            _ => {}
        }
    }
    idcs
}

/// NAL units (header byte first) between Annex-B start codes.
fn nal_units(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &start)| {
            let mut end = starts.get(k + 1).map_or(data.len(), |next| next - 3);
            // A four-byte start code leaves its leading zero at the end of the previous unit.
            while end > start && data[end - 1] == 0 {
                end -= 1;
            }
            &data[start..end]
        })
        .filter(|nal| !nal.is_empty())
        .collect()
}

/// Removes emulation prevention bytes: `00 00 03` → `00 00`.
fn unescape(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len());
    let mut zeros = 0;
    for &byte in payload {
        if zeros >= 2 && byte == 3 {
            zeros = 0;
            continue;
        }
        zeros = if byte == 0 { zeros + 1 } else { 0 };
        out.push(byte);
    }
    out
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    fn bit(&mut self) -> u32 {
        let byte = self
            .data
            .get(self.pos / 8)
            .expect("the syntax ran past the NAL unit");
        let bit = u32::from(byte >> (7 - self.pos % 8) & 1);
        self.pos += 1;
        bit
    }

    fn bits(&mut self, n: u32) -> u32 {
        (0..n).fold(0, |acc, _| acc << 1 | self.bit())
    }

    fn flag(&mut self) -> bool {
        self.bit() == 1
    }

    /// ue(v)
    fn ue(&mut self) -> u32 {
        let mut zeros = 0;
        while self.bit() == 0 {
            zeros += 1;
            assert!(zeros < 32, "an Exp-Golomb code longer than 32 bits");
        }
        (1 << zeros) - 1 + self.bits(zeros)
    }

    /// se(v)
    fn se(&mut self) -> i64 {
        let k = i64::from(self.ue());
        if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) }
    }
}

struct Sps {
    separate_colour_plane: bool,
    log2_max_frame_num: u32,
    pic_order_cnt_type: u32,
    log2_max_pic_order_cnt_lsb: u32,
    delta_pic_order_always_zero: bool,
    frame_mbs_only: bool,
}

impl Sps {
    fn read(r: &mut Bits<'_>) -> Self {
        let profile_idc = r.bits(8);
        r.bits(16); // constraint flags, level_idc
        r.ue(); // seq_parameter_set_id
        let mut separate_colour_plane = false;
        if matches!(
            profile_idc,
            100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
        ) {
            if r.ue() == 3 {
                separate_colour_plane = r.flag();
            }
            r.ue(); // bit_depth_luma_minus8
            r.ue(); // bit_depth_chroma_minus8
            r.flag(); // qpprime_y_zero_transform_bypass_flag
            assert!(!r.flag(), "scaling matrices are not read here");
        }
        let log2_max_frame_num = r.ue() + 4;
        let pic_order_cnt_type = r.ue();
        let (mut log2_max_pic_order_cnt_lsb, mut delta_pic_order_always_zero) = (0, false);
        match pic_order_cnt_type {
            0 => log2_max_pic_order_cnt_lsb = r.ue() + 4,
            1 => {
                delta_pic_order_always_zero = r.flag();
                r.se(); // offset_for_non_ref_pic
                r.se(); // offset_for_top_to_bottom_field
                for _ in 0..r.ue() {
                    r.se(); // offset_for_ref_frame
                }
            }
            _ => {}
        }
        r.ue(); // max_num_ref_frames
        r.flag(); // gaps_in_frame_num_value_allowed_flag
        r.ue(); // pic_width_in_mbs_minus1
        r.ue(); // pic_height_in_map_units_minus1
        let frame_mbs_only = r.flag();
        Self {
            separate_colour_plane,
            log2_max_frame_num,
            pic_order_cnt_type,
            log2_max_pic_order_cnt_lsb,
            delta_pic_order_always_zero,
            frame_mbs_only,
        }
    }
}

struct Pps {
    entropy_coding_mode: bool,
    bottom_field_pic_order_in_frame_present: bool,
    weighted_pred: bool,
    weighted_bipred_idc: u32,
    deblocking_filter_control_present: bool,
    redundant_pic_cnt_present: bool,
}

impl Pps {
    fn read(r: &mut Bits<'_>) -> Self {
        r.ue(); // pic_parameter_set_id
        r.ue(); // seq_parameter_set_id
        let entropy_coding_mode = r.flag();
        let bottom_field_pic_order_in_frame_present = r.flag();
        assert_eq!(r.ue(), 0, "slice groups are not read here");
        r.ue(); // num_ref_idx_l0_default_active_minus1
        r.ue(); // num_ref_idx_l1_default_active_minus1
        let weighted_pred = r.flag();
        let weighted_bipred_idc = r.bits(2);
        r.se(); // pic_init_qp_minus26
        r.se(); // pic_init_qs_minus26
        r.se(); // chroma_qp_index_offset
        let deblocking_filter_control_present = r.flag();
        r.flag(); // constrained_intra_pred_flag
        let redundant_pic_cnt_present = r.flag();
        Self {
            entropy_coding_mode,
            bottom_field_pic_order_in_frame_present,
            weighted_pred,
            weighted_bipred_idc,
            deblocking_filter_control_present,
            redundant_pic_cnt_present,
        }
    }
}

/// Reads a slice header up to `disable_deblocking_filter_idc` (7.3.3).
fn slice_deblocking_idc(r: &mut Bits<'_>, sps: &Sps, pps: &Pps, idr: bool, nal_ref_idc: u8) -> u32 {
    r.ue(); // first_mb_in_slice
    let slice_type = r.ue() % 5; // 0 P, 1 B, 2 I, 3 SP, 4 SI
    r.ue(); // pic_parameter_set_id
    if sps.separate_colour_plane {
        r.bits(2);
    }
    r.bits(sps.log2_max_frame_num); // frame_num
    let mut field_pic = false;
    if !sps.frame_mbs_only {
        field_pic = r.flag();
        if field_pic {
            r.flag(); // bottom_field_flag
        }
    }
    if idr {
        r.ue(); // idr_pic_id
    }
    if sps.pic_order_cnt_type == 0 {
        r.bits(sps.log2_max_pic_order_cnt_lsb);
        if pps.bottom_field_pic_order_in_frame_present && !field_pic {
            r.se(); // delta_pic_order_cnt_bottom
        }
    }
    if sps.pic_order_cnt_type == 1 && !sps.delta_pic_order_always_zero {
        r.se();
        if pps.bottom_field_pic_order_in_frame_present && !field_pic {
            r.se();
        }
    }
    if pps.redundant_pic_cnt_present {
        r.ue();
    }
    if slice_type == 1 {
        r.flag(); // direct_spatial_mv_pred_flag
    }
    if matches!(slice_type, 0 | 1 | 3) && r.flag() {
        // num_ref_idx_active_override_flag
        r.ue();
        if slice_type == 1 {
            r.ue();
        }
    }
    let lists = match slice_type {
        0 | 3 => 1,
        1 => 2,
        _ => 0,
    };
    for _ in 0..lists {
        if r.flag() {
            // ref_pic_list_modification_flag: operations until idc 3
            loop {
                match r.ue() {
                    3 => break,
                    _ => {
                        r.ue();
                    }
                }
            }
        }
    }
    assert!(
        !((pps.weighted_pred && matches!(slice_type, 0 | 3))
            || (pps.weighted_bipred_idc == 1 && slice_type == 1)),
        "weighted prediction tables are not read here"
    );
    if nal_ref_idc != 0 {
        if idr {
            r.flag(); // no_output_of_prior_pics_flag
            r.flag(); // long_term_reference_flag
        } else if r.flag() {
            // adaptive_ref_pic_marking_mode_flag: operations until 0
            loop {
                let operation = r.ue();
                if operation == 0 {
                    break;
                }
                if matches!(operation, 1 | 3) {
                    r.ue();
                }
                if operation == 2 {
                    r.ue();
                }
                if matches!(operation, 3 | 6) {
                    r.ue();
                }
                if operation == 4 {
                    r.ue();
                }
            }
        }
    }
    if pps.entropy_coding_mode && !matches!(slice_type, 2 | 4) {
        r.ue(); // cabac_init_idc
    }
    r.se(); // slice_qp_delta
    if matches!(slice_type, 3 | 4) {
        if slice_type == 3 {
            r.flag(); // sp_for_switch_flag
        }
        r.se(); // slice_qs_delta
    }
    if pps.deblocking_filter_control_present {
        r.ue()
    } else {
        0
    }
}
