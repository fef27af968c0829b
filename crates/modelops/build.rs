//! Build script: lets the `modelops` binary find `libxgboost.so` at run time without `LD_LIBRARY_PATH`.
//!
//! With the `xgboost` feature, XGBoost is built from source by `xgboost_lib-sys` as a *shared* library inside that
//! crate's build-output folder (`target/<profile>/build/xgboost_lib-sys-<hash>/out/lib`). `cargo run` and
//! `cargo test` add that folder to the library path; a binary started directly would not find it. So this script
//! copies `libxgboost.so*` next to the binary (`target/<profile>/`) and links the binary with two run paths:
//! `$ORIGIN` (the copy beside it, which travels with the binary) and the absolute build-output folder (in case
//! the binary alone is moved within the machine). LightGBM is linked statically and needs neither.
//!
//! `xgboost_lib-sys` is a direct (optional) dependency of this crate only so that Cargo runs its build script,
//! which has `links = "xgboost"`, before this one; the library then exists when we look for it.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_XGBOOST").is_none() {
        return;
    }
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!(
            "cargo:warning=OUT_DIR is not set; libxgboost.so will need LD_LIBRARY_PATH at run time"
        );
        return;
    };
    // OUT_DIR is <target>/<profile>/build/modelops-<hash>/out.
    let Some(profile_dir) = out_dir.ancestors().nth(3).map(Path::to_path_buf) else {
        println!(
            "cargo:warning=unexpected OUT_DIR layout {}; libxgboost.so not located",
            out_dir.display()
        );
        return;
    };
    let Some(lib_dir) = newest_xgboost_lib_dir(&profile_dir.join("build")) else {
        println!(
            "cargo:warning=libxgboost.so not found under {}/build/xgboost_lib-sys-*/out; the binary will need \
             LD_LIBRARY_PATH",
            profile_dir.display()
        );
        return;
    };
    match copy_libraries(&lib_dir, &profile_dir) {
        Ok(copied) => {
            for file in copied {
                println!("cargo:rerun-if-changed={}", file.display());
            }
        }
        Err(err) => println!(
            "cargo:warning=could not copy libxgboost.so from {} to {}: {err}",
            lib_dir.display(),
            profile_dir.display()
        ),
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-rpath,$ORIGIN");
    println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{}", lib_dir.display());
}

/// The `out/lib` (or `out/lib64`) folder holding the most recently built `libxgboost.so`.
fn newest_xgboost_lib_dir(build_dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(build_dir).ok()?;
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with("xgboost_lib-sys-")
        {
            continue;
        }
        for lib in ["lib", "lib64"] {
            let dir = entry.path().join("out").join(lib);
            let Ok(meta) = std::fs::metadata(dir.join("libxgboost.so")) else {
                continue;
            };
            let Ok(modified) = meta.modified() else {
                continue;
            };
            if best.as_ref().is_none_or(|(time, _)| modified > *time) {
                best = Some((modified, dir));
            }
        }
    }
    best.map(|(_, dir)| dir)
}

/// Copies every `libxgboost.so*` file (the library and any versioned names) from `from` into `to`.
fn copy_libraries(from: &Path, to: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut copied = Vec::new();
    for entry in std::fs::read_dir(from)?.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with("libxgboost.so") {
            continue;
        }
        let source = entry.path();
        let target = to.join(&name);
        // Replace rather than overwrite in place: a running binary may have the old copy mapped.
        let staging = to.join(format!(".{}.tmp", name.to_string_lossy()));
        std::fs::copy(&source, &staging)?;
        std::fs::rename(&staging, &target)?;
        copied.push(source);
    }
    Ok(copied)
}
