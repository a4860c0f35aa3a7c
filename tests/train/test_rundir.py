"""The run directory's writer: whole files or none, and interruptions held past critical stretches."""
import pytest

from mlc.train import rundir


def test_an_interruption_inside_a_critical_stretch_waits_for_its_end():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with rundir.critical():
            rundir.interrupt(KeyboardInterrupt())
            done.append("finished the write")
    assert done == ["finished the write"]
    with pytest.raises(KeyboardInterrupt):
        rundir.interrupt(KeyboardInterrupt())  # outside: at once


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "f.txt"
    rundir.atomic_write(target, "old")
    with pytest.raises(rundir.RunDirectoryError, match="cannot write .*missing/f.txt"):
        rundir.atomic_write(tmp_path / "missing" / "f.txt", "new")
    assert target.read_text() == "old" and not list(tmp_path.glob(".*tmp*"))
