"""`gerbang report usage`: per agency, per purpose access counts of one client for a period, counted from the
audit log below a signed checkpoint, as a signed note that verifies with the audit key (and not once altered)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.cli.main import app as cli
from core.security.clients import today_wib
from core.security.usage import ReportError, verify_report
from core.settings import get_settings
from tests.conftest import AUDIT_VERIFIER_KEY, BUS_SECRETS
from tests.core.bus.helpers import FAST, SUPPLY
from tests.core.conftest import POPULATION

runner = CliRunner()
ALIVE = [p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil]
UNKNOWN = next(p for p in POPULATION.people if not p.in_dukcapil)


@pytest.fixture
def gerbang(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Callable[..., Any]:
    def invoke(*args: str) -> Any:
        monkeypatch.setenv("GERBANG_DATABASE_URL", database_url)
        monkeypatch.setenv("GERBANG_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("GERBANG_SIGNING_KEY", BUS_SECRETS["signing_key"])
        get_settings.cache_clear()
        try:
            return runner.invoke(cli, list(args))
        finally:
            get_settings.cache_clear()

    return invoke


def test_usage_report_counts_signs_and_verifies(make_api, add_client, gerbang, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    today = today_wib()  # read at run time: a date taken at import goes stale across midnight WIB
    api = make_api(**FAST)
    mine = {"Authorization": "Bearer " + add_client(
        "mpp-depok", ["citizen:read:*", "citizen:verify", "application:submit:*"],
        ["identity_check", "business_licensing"])}
    other = {"Authorization": "Bearer " + add_client("someone-else", ["citizen:read:*"], ["identity_check"])}
    expected: Counter[tuple[str, str, str]] = Counter()
    for person, purpose in [(ALIVE[0], "identity_check"), (ALIVE[0], "business_licensing"),
                            (ALIVE[0], "business_licensing"), (ALIVE[1], "business_licensing")]:
        reply = api.get(f"/v1/citizens/{person.nik}", headers=mine, params={"purpose": purpose})
        assert reply.status_code == 200, reply.text
        for facet in reply.json()["facets"].values():
            provenance = facet["provenance"]
            if provenance["status"] in ("ok", "not_found"):
                expected[(provenance["agency"], purpose, "reads")] += 1
                if provenance["cached"]:
                    expected[(provenance["agency"], purpose, "from_cache")] += 1
    assert api.get(f"/v1/citizens/{UNKNOWN.nik}", headers=mine, params={"purpose": "identity_check"}
                   ).status_code == 404
    expected[("dukcapil", "identity_check", "reads")] += 1
    expected[("dukcapil", "identity_check", "refused")] += 1
    assert api.post(f"/v1/citizens/{ALIVE[0].nik}/verify", headers=mine, params={"purpose": "identity_check"},
                    json={"full_name": ALIVE[0].name}).status_code == 200
    expected[("dukcapil", "identity_check", "verifications")] += 1
    assert api.post("/v1/applications", headers={**mine, "Idempotency-Key": str(uuid.uuid4())},
                    json=SUPPLY.repeatable("oss")).status_code == 202
    expected[("oss", "application:license_status", "submissions")] += 1
    api.get(f"/v1/citizens/{ALIVE[2].nik}", headers=other, params={"purpose": "identity_check"})  # not counted
    assert expected[("oss", "business_licensing", "from_cache")] == 1  # the repeated read came from the cache

    path = tmp_path / "report.txt"
    result = gerbang("report", "usage", "--client", "mpp-depok", "--from", (today - dt.timedelta(days=1)).isoformat(),
                     "--to", today.isoformat(), "--out", str(path))
    assert result.exit_code == 0, result.output
    signed = path.read_text()
    assert signed.startswith("gerbang usage report v1\n") and "\n\n— gerbang.test/audit " in signed
    report = verify_report(signed, AUDIT_VERIFIER_KEY)
    assert report["client"] == "mpp-depok" and report["period"]["to"] == today.isoformat()
    counted = Counter({(row["agency"], row["purpose"], key): row[key] for row in report["rows"]
                       for key in ("reads", "from_cache", "refused", "verifications", "submissions") if row[key]})
    assert counted == expected
    assert report["totals"]["reads"] == sum(v for (_, _, k), v in expected.items() if k == "reads")
    assert report["audit_log"]["size"] > 0 and report["audit_log"]["origin"] == "gerbang.test/audit"

    checked = gerbang("report", "verify", str(path), "--key", AUDIT_VERIFIER_KEY)
    assert checked.exit_code == 0 and '"client": "mpp-depok"' in checked.stdout
    path.write_text(signed.replace('"submissions": 1', '"submissions": 0', 1))
    tampered = gerbang("report", "verify", str(path), "--key", AUDIT_VERIFIER_KEY)
    assert tampered.exit_code == 1 and "does not verify" in tampered.output
    with pytest.raises(ReportError):
        from core.audit.note import generate_signer

        verify_report(signed, generate_signer("gerbang.test/audit")[1])

    earlier = gerbang("report", "usage", "--client", "mpp-depok", "--from", "2020-01-01", "--to", "2020-06-30")
    assert earlier.exit_code == 0 and verify_report(earlier.stdout, AUDIT_VERIFIER_KEY)["rows"] == []
    for args, message in [(["--client", "nobody", "--from", "2025-01-01", "--to", "2025-06-30"], "no client"),
                          (["--client", "mpp-depok", "--from", "2025-07-01", "--to", "2025-01-01"], "ends before"),
                          (["--client", "mpp-depok", "--from", "1/1/2025", "--to", "2025-06-30"], "YYYY-MM-DD")]:
        refused = gerbang("report", "usage", *args)
        assert refused.exit_code == 2 and message in refused.output, refused.output
