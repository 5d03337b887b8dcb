"""make bench-peers' installer: a stamped venv is reused; a failed pip step says why and stamps nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrouter.tools.bench_peers import PeerError, install


def test_a_stamped_venv_is_reused_without_pip(tmp_path: Path) -> None:
    venv = tmp_path / "peer"
    venv.mkdir()
    (venv / ".installed").write_text("pkg==1.0 ; other==2.0\n")
    # No python in the venv: any attempt to create it or run pip would fail.
    assert install("peer", [["pkg==1.0"], ["other==2.0"]], root=tmp_path) == venv / "bin"
    assert not (tmp_path / "peer-install.log").exists()


def test_a_failed_step_raises_with_pips_reason_and_leaves_no_stamp(tmp_path: Path) -> None:
    (tmp_path / "peer").mkdir()
    (tmp_path / "peer" / ".installed").write_text("pkg==0.9\n")  # a changed pin reinstalls
    with pytest.raises(PeerError, match="no-such-package-for-the-bench"):
        install("peer", [["--no-index", "no-such-package-for-the-bench==1.0"]], root=tmp_path)
    assert (tmp_path / "peer" / "bin" / "python").exists()
    assert (tmp_path / "peer" / ".installed").read_text() == "pkg==0.9\n"
