"""Apache James MPT IMAP scripts played against the real roostd.

One test per (suite, script) pair of shared/conformance/james-mpt/manifest.tsv;
the runner and its normalisations are in tests/conformance/mpt.py, the scripts
not run (with the reason) in tests/conformance/skips.tsv (shown by pytest -rs).
One roostd serves the whole module; every script gets an account of its own.
"""
import sys
from pathlib import Path

import pytest

from conftest import Roost

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "conformance"))
import mpt  # noqa: E402

CASES = mpt.load_manifest()
SKIPS = mpt.load_skips()


@pytest.fixture(scope="module")
def mpt_server(tmp_path_factory):
    accounts = {"alice": {"password": "alice-secret"}}
    for i in range(len(CASES) + 1):
        accounts[f"mpt{i:03d}"] = {"password": mpt.PASSWORD}
    r = Roost(tmp_path_factory.mktemp("mpt"), accounts=accounts)
    r.start()
    try:
        caps = mpt.capabilities("127.0.0.1", r.ports["imap"], f"mpt{len(CASES):03d}")
        yield r, caps
    finally:
        r.stop()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mpt(mpt_server, case):
    r, caps = mpt_server
    reason = mpt.skip_reason(case, SKIPS, caps)
    if reason:
        pytest.skip(reason)
    account = f"mpt{CASES.index(case):03d}"
    port = r.ports["imap"]
    mpt.setup_account("127.0.0.1", port, account)
    try:
        mpt.run_case(case, "127.0.0.1", port, account, caps)
    except mpt.ScriptFailure as e:
        pytest.fail(f"{case.id}: {e}", pytrace=False)
