//! Files written whole: a hidden temporary file beside the target, synced, renamed over it. A
//! reader (a browser, a load running meanwhile, a tap's next run) never sees half a file, and a
//! failed write leaves the old file as it was.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` as `target`, making its folder if needed and keeping the permissions of the
/// file it replaces. On failure the temporary file is removed and `target` is untouched.
pub fn write(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return Err(std::io::Error::other("the path names no file"));
    };
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(dir)?;
    }
    // Hidden, so a load or a glob over the folder passes it by.
    let temp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(target) {
            std::fs::set_permissions(&temp, meta.permissions())?;
        }
        std::fs::rename(&temp, target)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_is_replaced_whole_and_nothing_is_left_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/a.txt");
        super::write(&target, b"one").unwrap();
        super::write(&target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.txt"]);
        // A folder where the file should be: the write fails and leaves no temporary file.
        std::fs::create_dir(dir.path().join("sub/b")).unwrap();
        assert!(super::write(&dir.path().join("sub/b"), b"x").is_err());
        assert!(!dir.path().join("sub/.b.tmp").exists());
    }
}
