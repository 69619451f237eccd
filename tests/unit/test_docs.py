from pathlib import Path

from camgate.docs import inventory_reference

ROOT = Path(__file__).resolve().parents[2]


def test_inventory_reference_matches_the_model():
    assert (ROOT / "docs/inventory.md").read_text() == inventory_reference(), (
        "docs/inventory.md is stale: run `python -m camgate.docs > docs/inventory.md`"
    )


def test_every_metric_is_documented():
    from camgate.gateway.metrics import METRICS

    text = (ROOT / "docs/metrics.md").read_text()
    assert [name for name in METRICS if f"`{name}`" not in text] == []
