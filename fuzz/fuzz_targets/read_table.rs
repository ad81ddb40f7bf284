//! Fuzzes the CSV and XLSX readers: any bytes must give a table or a file-level error, never a
//! panic. Run with `cargo +nightly fuzz run read_table` from the repository root (not in CI).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The reader picks CSV or a workbook from the content; the name is only used in messages.
    let _ = xietong_transfer::read_table("fuzz.csv", data);
    // Also force the workbook path for inputs that do not start with the ZIP magic.
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(data);
    let _ = xietong_transfer::read_table("fuzz.xlsx", &zip);
});
