"""Archives built to make the reader pass over a member that an extractor writes out: each is
built at test time from committed fixtures (a picture the watermark decoder flags, a clean one,
an A1111 infotext) beside a clean ``plate.png``, and must come out with the marked member
flagged ``ai`` or the archive an ``error`` (exit 2), never clean. Ordinary archives come out
exactly as before."""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from detectors.model import ARCHIVE, Report
from tests.conftest import FIXTURES
from tests.test_archives import _scan

MARKED = (FIXTURES / "watermark" / "sdxl_sgm_512.png").read_bytes()  # flagged ``ai``
CLEAN = (FIXTURES / "watermark" / "clean_512.png").read_bytes()
INFOTEXT = (FIXTURES / "sidecars" / "a1111_txt" / "00012-1234567890.txt").read_bytes()


def _tar(*members: tuple[str, bytes] | tuple[str, bytes, bytes],
         fmt: int = tarfile.USTAR_FORMAT) -> bytes:
    """A TAR of ``(name, data[, type flag])`` members, as tarfile writes it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tf:
        for name, data, *flag in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if flag:
                info.type = flag[0]
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _zip(*members: tuple[str, bytes] | tuple[zipfile.ZipInfo, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return out.getvalue()


def _header_at(n: int) -> int:
    """Where the second member's header starts in a TAR whose first holds ``n`` bytes."""
    return 512 + (n + 511) // 512 * 512


def _run(path: Path) -> tuple[Report, dict[str, tuple[str, str]], dict[str, str]]:
    """The real scan of ``path``: the report, ``{name inside: (verdict, kind)}`` (the archive
    itself under ``""``) and the archive's error messages joined."""
    report, by = _scan(path)
    prefix = str(path)
    inside = {p.removeprefix(prefix).removeprefix("!/"): v for p, v in by.items()}
    errors = {r.asset.path.removeprefix(prefix).removeprefix("!/"):
              "; ".join(e.message for e in r.errors) for r in report.results}
    return report, inside, errors


def _flagged_or_error(path: Path, member: str) -> tuple[Report, dict[str, tuple[str, str]],
                                                        dict[str, str]]:
    report, inside, errors = _run(path)
    assert inside["plate.png"] == ("clean", "image")
    assert inside.get(member, ("", ""))[0] == "ai" or inside[""][0] == "error", inside
    assert report.summary.exit_code in (1, 2)
    assert inside[""][0] in ("ai", "error")
    return report, inside, errors


def test_zip_member_with_symlink_mode_is_read_as_a_file(tmp_path: Path) -> None:
    """C1: Python's extractall and 7-Zip on Windows write a "symlink" entry's bytes as a file."""
    link = zipfile.ZipInfo("shot.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = tmp_path / "zip_symlink_mode.zip"
    path.write_bytes(_zip(("plate.png", CLEAN), (link, MARKED)))
    report, inside, _ = _flagged_or_error(path, "shot.png")
    assert inside["shot.png"] == ("ai", "image") and inside[""] == ("ai", ARCHIVE)
    assert report.summary.exit_code == 1
    shot = next(r for r in report.results if r.asset.path.endswith("!/shot.png"))
    assert any("stored as a symbolic link" in n for n in shot.asset.notes)


def test_tar_member_of_unknown_type_is_read_as_a_file(tmp_path: Path) -> None:
    """C2: GNU tar extracts an entry of a type it does not know as a regular file."""
    path = tmp_path / "tar_unknown_type.tar"
    path.write_bytes(_tar(("plate.png", CLEAN), ("shot.png", MARKED, b"Z"),
                          fmt=tarfile.GNU_FORMAT))
    report, inside, _ = _flagged_or_error(path, "shot.png")
    assert inside["shot.png"] == ("ai", "image") and inside[""] == ("ai", ARCHIVE)
    assert report.summary.exit_code == 1
    shot = next(r for r in report.results if r.asset.path.endswith("!/shot.png"))
    assert any("TAR entry type 'Z'" in n for n in shot.asset.notes)


def test_zip_duplicate_names_each_scan_their_own_bytes(tmp_path: Path) -> None:
    """C3: the second ``notes.txt`` (what an extractor leaves) holds an infotext; keyed by
    name, both entries were read from the first copy."""
    path = tmp_path / "zip_dup_sidecar.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        path.write_bytes(_zip(("plate.png", CLEAN), ("notes.txt", b"grade notes\n"),
                              ("notes.txt", INFOTEXT)))
    report, _, _ = _flagged_or_error(path, "notes.txt")
    notes = [r.verdict for r in report.results if r.asset.path.endswith("!/notes.txt")]
    assert notes == ["skipped", "ai"]  # both reported, each from its own bytes
    assert report.summary.exit_code == 1


def test_tar_header_with_bad_checksum_is_an_error(tmp_path: Path) -> None:
    """C4: tarfile takes a bad header after the first as the end of the archive, silently;
    GNU tar skips to the next header and exits 2."""
    data = bytearray(_tar(("plate.png", CLEAN), ("shot.png", MARKED)))
    data[_header_at(len(CLEAN)) + 148] ^= 1  # the checksum field
    path = tmp_path / "tar_bad_checksum.tar"
    path.write_bytes(bytes(data))
    report, inside, errors = _flagged_or_error(path, "shot.png")
    assert inside[""] == ("error", ARCHIVE) and report.summary.exit_code == 2
    assert f"header at byte {_header_at(len(CLEAN)):,}" in errors[""]
    assert "bytes not checked" in errors[""]


def test_tar_concatenated_after_the_end_is_an_error(tmp_path: Path) -> None:
    """C5: ``cat a.tar b.tar``: ``tar -i`` extracts the second archive after the end blocks."""
    path = tmp_path / "tar_concat.tar"
    hidden = _tar(("hidden.png", MARKED))
    path.write_bytes(_tar(("plate.png", CLEAN)) + hidden)
    report, inside, errors = _flagged_or_error(path, "hidden.png")
    assert inside[""] == ("error", ARCHIVE) and report.summary.exit_code == 2
    assert f"data after the end of the archive: {len(hidden):,} bytes not checked" in errors[""]


def test_zip_with_another_zip_in_front_is_an_error(tmp_path: Path) -> None:
    """C6: only the last central directory is read; a streaming extractor reads the first."""
    path = tmp_path / "zip_prepended.zip"
    front = _zip(("hidden.png", MARKED))
    path.write_bytes(front + _zip(("plate.png", CLEAN)))
    report, inside, errors = _flagged_or_error(path, "hidden.png")
    assert inside[""] == ("error", ARCHIVE) and report.summary.exit_code == 2
    assert f"{len(front):,} bytes not covered by any member" in errors[""]


def test_zip_with_data_after_its_end_record_is_an_error(tmp_path: Path) -> None:
    """C6, the other end: bytes appended after the end of central directory record (small
    enough that zipfile still finds the record; a larger tail is a damaged ZIP)."""
    path = tmp_path / "zip_appended.zip"
    path.write_bytes(_zip(("plate.png", CLEAN)) + INFOTEXT)
    report, inside, errors = _flagged_or_error(path, "notes.txt")
    assert inside[""] == ("error", ARCHIVE) and report.summary.exit_code == 2
    assert f"data after the end of the archive: {len(INFOTEXT):,} bytes" in errors[""]


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz"])
@pytest.mark.parametrize(("cut", "why"), [
    (200, "is not valid: 200 bytes not checked"),  # inside the second header
    (0, "ends without the end-of-archive marker"),  # just before the second header
])
def test_tar_truncated_anywhere_is_an_error(tmp_path: Path, suffix: str, cut: int,
                                            why: str) -> None:
    """A TAR cut inside (or right before) a header passed as complete; cut inside member data
    it was already an error."""
    whole = _tar(("plate.png", CLEAN), ("shot.png", MARKED))
    data = whole[:_header_at(len(CLEAN)) + cut]
    path = tmp_path / f"truncated{suffix}"
    path.write_bytes(gzip.compress(data) if suffix == ".tar.gz" else data)
    report, inside, errors = _flagged_or_error(path, "shot.png")
    assert inside[""] == ("error", ARCHIVE) and report.summary.exit_code == 2
    assert why in errors[""]


class _Unseekable(io.RawIOBase):
    """An output zipfile cannot seek back in: it writes data descriptors after each member."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


@pytest.mark.parametrize("name", ["ordinary.zip", "streamed.zip", "ordinary.tar",
                                  "padded.tar", "ordinary.tar.gz"])
def test_ordinary_archives_come_out_as_before(tmp_path: Path, name: str) -> None:
    """No note, no error: the whole-archive checks find nothing in what archivers write
    (data descriptors, zero padding to any record size)."""
    members = (("plate.png", CLEAN), ("shot.png", MARKED), ("notes.txt", b"grade notes\n"))
    if name == "streamed.zip":
        sink = _Unseekable()
        with zipfile.ZipFile(sink, "w") as zf:
            for member, data in members:
                zf.writestr(member, data)
        assert all(i.flag_bits & 0x08 for i in zipfile.ZipFile(io.BytesIO(sink.data)).infolist())
        raw = bytes(sink.data)
    elif name.endswith(".zip"):
        raw = _zip(*members)
    else:
        raw = _tar(*members)
        raw += bytes(20480) if name == "padded.tar" else b""
        raw = gzip.compress(raw) if name.endswith(".gz") else raw
    path = tmp_path / name
    path.write_bytes(raw)
    report, inside, errors = _run(path)
    assert inside == {"plate.png": ("clean", "image"), "shot.png": ("ai", "image"),
                      "notes.txt": ("skipped", "other"), "": ("ai", ARCHIVE)}
    assert not any(errors.values())
    assert all(not r.asset.notes for r in report.results if r.asset.container)
    assert report.summary.exit_code == 1
