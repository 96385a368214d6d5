//! Puts the official browser client bundle (npm package `socket.io-client`, pinned
//! below) into OUT_DIR so that the crate can serve `/socket.io/socket.io.js`,
//! `/socket.io/socket.io.min.js`, the bundle built with the msgpack parser
//! (`socket.io.msgpack.min.js`) and their source maps with `include_bytes!`.
//!
//! Nothing of the client is kept in the repository. The files come from:
//! 1. the folder named by the environment variable `RALLY_CLIENT_DIST`, when set
//!    (e.g. `tests/js/node_modules/socket.io-client/dist`), else
//! 2. `npm pack socket.io-client@<CLIENT_VERSION>`, unpacked with `tar`.
//!
//! The result is cached in OUT_DIR (with a stamp naming the version), so npm runs
//! once per fresh target directory. `NPM` may name another npm executable.
//!
//! Only with the `client-bundle` feature: without it, nothing here touches npm or the
//! network, and the crate answers the bundle's paths with 404.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Must match `node_modules/socket.io-client` in tests/js/package-lock.json.
const CLIENT_VERSION: &str = "4.8.4";

/// The files written into OUT_DIR, under these exact names.
const FILES: [&str; 6] = [
    "socket.io.js",
    "socket.io.min.js",
    "socket.io.msgpack.min.js",
    "socket.io.js.map",
    "socket.io.min.js.map",
    "socket.io.msgpack.min.js.map",
];

const HOW_TO_FIX: &str =
    "install Node.js/npm (Debian: `apt-get install npm`) or set RALLY_CLIENT_DIST \
to a folder holding socket.io-client's dist files (e.g. node_modules/socket.io-client/dist)";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RALLY_CLIENT_DIST");
    println!("cargo:rustc-env=RALLY_CLIENT_VERSION={CLIENT_VERSION}");
    if env::var_os("CARGO_FEATURE_CLIENT_BUNDLE").is_none() {
        return;
    }

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let result = match env::var_os("RALLY_CLIENT_DIST").filter(|v| !v.is_empty()) {
        Some(dist) => copy_from_dist(Path::new(&dist), &out_dir),
        None => fetch_with_npm(&out_dir),
    };
    if let Err(err) = result {
        panic!(
            "rally: could not obtain socket.io-client@{CLIENT_VERSION}'s browser bundle: {err}\n\
             To fix: {HOW_TO_FIX}"
        );
    }
}

/// Copies the files from a dist folder given by the user.
fn copy_from_dist(dist: &Path, out_dir: &Path) -> Result<(), String> {
    for name in FILES {
        let src = dist.join(name);
        println!("cargo:rerun-if-changed={}", src.display());
        fs::copy(&src, out_dir.join(name))
            .map_err(|e| format!("RALLY_CLIENT_DIST: cannot copy {}: {e}", src.display()))?;
    }
    // Warn (don't fail) when the given bundle is another version than the pinned one.
    if let Ok(head) = fs::read(dist.join("socket.io.js")) {
        let head = String::from_utf8_lossy(&head[..head.len().min(200)]).into_owned();
        if !head.contains(&format!("v{CLIENT_VERSION}")) {
            println!(
                "cargo:warning=RALLY_CLIENT_DIST={} does not look like socket.io-client v{CLIENT_VERSION} (header: {:?})",
                dist.display(),
                head.lines().take(2).collect::<Vec<_>>().join(" ")
            );
        }
    }
    // The copied files are not the npm cache: invalidate the stamp.
    let _ = fs::remove_file(stamp_path(out_dir));
    Ok(())
}

fn stamp_path(out_dir: &Path) -> PathBuf {
    out_dir.join("socket.io-client.stamp")
}

/// Runs `npm pack socket.io-client@VERSION` into OUT_DIR and unpacks the dist files.
fn fetch_with_npm(out_dir: &Path) -> Result<(), String> {
    let stamp = stamp_path(out_dir);
    let wanted = format!("npm socket.io-client@{CLIENT_VERSION}\n");
    let cached = fs::read_to_string(&stamp)
        .map(|s| s == wanted)
        .unwrap_or(false)
        && FILES.iter().all(|f| out_dir.join(f).is_file());
    if cached {
        return Ok(());
    }

    let work = out_dir.join("npm-pack");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;

    let npm = env::var("NPM").unwrap_or_else(|_| "npm".to_string());
    let output = Command::new(&npm)
        .args(["pack", &format!("socket.io-client@{CLIENT_VERSION}")])
        .arg("--pack-destination")
        .arg(&work)
        .args(["--silent", "--no-fund", "--no-audit"])
        .current_dir(&work)
        .output()
        .map_err(|e| format!("cannot run `{npm} pack`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`{npm} pack socket.io-client@{CLIENT_VERSION}` failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let tarball = work.join(format!("socket.io-client-{CLIENT_VERSION}.tgz"));
    if !tarball.is_file() {
        return Err(format!("`npm pack` did not write {}", tarball.display()));
    }

    let members: Vec<String> = FILES.iter().map(|f| format!("package/dist/{f}")).collect();
    let output = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&work)
        .args(&members)
        .output()
        .map_err(|e| format!("cannot run `tar`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`tar -xzf {}` failed ({}): {}",
            tarball.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    for name in FILES {
        let src = work.join("package").join("dist").join(name);
        fs::rename(&src, out_dir.join(name))
            .or_else(|_| fs::copy(&src, out_dir.join(name)).map(|_| ()))
            .map_err(|e| format!("cannot move {} into OUT_DIR: {e}", src.display()))?;
    }
    let _ = fs::remove_dir_all(&work);
    fs::write(&stamp, wanted).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(())
}
