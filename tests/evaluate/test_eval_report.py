import json

from bimo.evaluate.report import build_report, small_judge_warning


def test_report_renders(tmp_path, jsonl):
    run = tmp_path / "run"
    run.mkdir()
    outcomes = ["model_a", "model_a", "tie", "model_b"]
    battles = [{"prompt": f"写第{k}段", "model_a": a, "model_b": b, "winner": outcomes[k % 4],
                "response_a": f"{a} 的回答 {k}", "response_b": f"{b} 的回答 {k}", "judge": "local:tiny",
                "verdicts": ["A", "B"]}
               for k in range(40) for a, b in [("m1", "m2"), ("m2", "m3"), ("m1", "m3")]]
    jsonl(run / "battles.jsonl", battles)
    judg = [{"key": str(k), "prompt": "p", "model": m, "rubric": "writebench", "judge": "local:tiny",
             "domain": ["fiction", "technical"][k % 2], "task": ["write", "polish"][k % 2],
             "scores": {"style": 5 + k % 3, "relevance": 6, "creativity": 4, "fluency": 7, "overall": 6},
             "overall": 6 + (m == "m1")} for k in range(8) for m in ("m1", "m2")]
    jsonl(run / "m.writebench.judged.jsonl", judg)
    jsonl(run / "m.writebench.judged.errors.jsonl", [{"key": "9", "reason": "not valid JSON"}])
    jsonl(run / "m1.jsonl", [{"prompt": "p", "response": "字" * n, "length": L}
                             for n, L in [(300, 400), (900, 1000), (2500, 3000), (5000, 5000)]]
          + [{"prompt": "no length asked", "response": "短文", "length": None}])  # as `bimo bench run` writes
    (run / "agreement.json").write_text(json.dumps({"kind": "pairwise", "judge": "local:tiny", "order_consistency": 0.4}))

    page = build_report(run, run / "report", rounds=50)
    html = page.read_text(encoding="utf-8")
    for png in ("ratings.png", "winrate.png", "length.png", "repetition.png", "scores_writebench_dimensions.png",
                "scores_writebench_by_domain.png", "scores_writebench_by_task.png"):
        p = run / "report" / png
        assert p.exists() and p.stat().st_size > 1000 and p.read_bytes()[:4] == b"\x89PNG"
    assert html.count("data:image/png;base64,") == 7 and 'src="file:' not in html
    assert "S_l eff" in html and "Flagged records" in html  # "字" * n repeats itself: flagged
    assert "local:tiny" in html and "small model" in html          # judge named, weakness warned
    assert "m1 的回答" in html                                      # side-by-side examples
    assert "order_consistency" in html and "Failed judgments" in html
    assert "Pairwise win rates" in html and "LC 95% CI" in html
    # the S_l table lists buckets in length order; the judge table shows overall once
    heads = [html.index(f"<th>{b}<br>") for b in ("[0,500)", "[500,2k)", "[2k,4k)", "[4k,20k]")]
    assert heads == sorted(heads)
    assert html.count("<th>overall</th>") == 1
    # written with the user's umask, readable by others like any file they create
    import os
    mask = os.umask(0)
    os.umask(mask)
    assert page.stat().st_mode & 0o777 == 0o666 & ~mask


def test_small_judge_warning():
    assert small_judge_warning("local:tiny")
    assert small_judge_warning("gguf:/m/qwen2.5-1.5b-instruct-q4.gguf")
    assert small_judge_warning("openai:http://h/v1#SmolLM2-135M")
    assert small_judge_warning("openai:http://h/v1#qwen2.5-72b-instruct") is None
    assert small_judge_warning("openai:https://api.example.com/v1") is None


def test_a_chart_that_fails_half_written_leaves_the_old_png(tmp_path, monkeypatch):
    """A crash while the PNG is written (simulated: half the bytes, then an error) must not
    leave a torn chart where a good one was."""
    import matplotlib.figure
    import pytest

    from bimo.evaluate.charts import ratings_chart

    res = {"baseline": "m1", "ratings": [{"model": "m1", "rating": 1000, "lower": 990, "upper": 1010},
                                         {"model": "m2", "rating": 1040, "lower": 1000, "upper": 1080}]}
    path = ratings_chart(res, tmp_path / "ratings.png")
    good = path.read_bytes()
    assert good.startswith(b"\x89PNG")
    real = matplotlib.figure.Figure.savefig

    def torn(self, fname, **kw):
        import io

        buf = io.BytesIO()
        real(self, buf, format="png")
        if hasattr(fname, "write"):
            fname.write(buf.getvalue()[:200])
        else:
            with open(fname, "wb") as fh:
                fh.write(buf.getvalue()[:200])
        raise OSError("No space left on device")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", torn)
    with pytest.raises(OSError):
        ratings_chart(res, path)
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ratings.png"]
