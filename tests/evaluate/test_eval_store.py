import subprocess
import sys
import textwrap

import pytest

from bimo.errors import BimoError
from bimo.evaluate.battles import Battle, load_battles
from bimo.evaluate.store import BattleStore

WRITER = textwrap.dedent("""
    import sys
    from bimo.evaluate.store import BattleStore
    store = BattleStore(sys.argv[1])
    who, n = sys.argv[2], int(sys.argv[3])
    for k in range(n):
        # one transaction per battle: the worst case for lock contention
        store.add({"prompt": f"{who}-{k}", "model_a": who, "model_b": "ref", "winner": "model_a",
                   "judge": f"human:{who}", "meta": {"k": k}})
""")


def test_two_concurrent_writer_processes(tmp_path):
    db = tmp_path / "battles.sqlite"
    BattleStore(db)
    n = 150
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), who, str(n)]) for who in ("w1", "w2")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    battles = BattleStore(db).all()
    assert len(battles) == 2 * n
    for who in ("w1", "w2"):
        mine = [b for b in battles if b.model_a == who]
        # each writer's battles all arrived, in its own order
        assert [b.meta["k"] for b in mine] == list(range(n))
        assert all(b.judge == f"human:{who}" for b in mine)


def test_roundtrip_jsonl(tmp_path, jsonl):
    src = jsonl(tmp_path / "b.jsonl", [
        {"prompt": "写一首诗", "model_a": "x", "model_b": "y", "winner": "tie", "judge": "openai:http://h", "extra": 3},
        {"prompt": "p2", "model_a": "y", "model_b": "x", "winner": "model_b", "response_a": "ra", "response_b": "rb"},
    ])
    store = BattleStore(tmp_path / "s.sqlite")
    assert store.import_jsonl(src) == 2
    assert store.count() == 2
    assert store.export_jsonl(tmp_path / "out.jsonl") == 2
    back = load_battles(tmp_path / "out.jsonl")
    assert back[0].prompt == "写一首诗" and back[0].meta == {"extra": 3}
    assert back[1].response_b == "rb"
    assert [b.winner for b in load_battles(tmp_path / "s.sqlite")] == ["tie", "model_b"]


def test_add_many_is_all_or_nothing(tmp_path):
    store = BattleStore(tmp_path / "s.sqlite")
    good = Battle(model_a="a", model_b="b", winner="tie")
    with pytest.raises(ValueError):
        store.add_many([good, {"model_a": "a", "model_b": "b", "winner": "nobody"}])
    assert store.count() == 0


def test_not_a_database(tmp_path):
    bad = tmp_path / "x.sqlite"
    bad.write_text("this is not sqlite, just text " * 20)
    with pytest.raises(BimoError, match="not a usable battle store"):
        BattleStore(bad)


def test_ids_and_dedup(tmp_path, jsonl):
    recs = [{"prompt": "p", "model_a": "x", "model_b": "y", "winner": "model_a"},
            {"prompt": "p", "model_a": "x", "model_b": "y", "winner": "model_a"},   # a second, identical vote
            {"id": 17, "prompt": "q", "model_a": "y", "model_b": "x", "winner": "tie"}]
    src = jsonl(tmp_path / "b.jsonl", recs)
    first = load_battles(src)
    assert [b.id for b in load_battles(src)] == [b.id for b in first]       # stable across reads
    assert first[0].id != first[1].id and first[1].id == first[0].id + "#2" and first[2].id == "17"
    store = BattleStore(tmp_path / "s.sqlite")
    assert store.import_jsonl(src) == 3
    assert store.import_jsonl(src) == 0 and store.count() == 3               # same file again: nothing new
    store.export_jsonl(tmp_path / "out.jsonl")
    assert store.import_jsonl(tmp_path / "out.jsonl") == 0                   # its own export: nothing new
    assert store.import_battles([*first, Battle(id="new", model_a="x", model_b="z", winner="tie")]) == (1, 3)
    with pytest.raises(BimoError, match="battle 17 is already in"):
        store.add(first[2])
    assert store.count() == 4
    # votes added in code get ids too, and unrelated votes never collide
    ids = store.add_many([{"model_a": "x", "model_b": "y", "winner": "tie", "judge": "human:ann"}] * 2)
    assert len(ids) == 2 and None not in ids and store.count() == 6


def test_store_without_battle_ids_is_refused_in_one_line(tmp_path):
    import sqlite3

    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE battles (id INTEGER PRIMARY KEY AUTOINCREMENT, prompt TEXT NOT NULL, model_a TEXT NOT NULL,
            model_b TEXT NOT NULL, winner TEXT NOT NULL, response_a TEXT, response_b TEXT, judge TEXT,
            time REAL NOT NULL, meta TEXT NOT NULL DEFAULT '{}');
        INSERT INTO battles (prompt, model_a, model_b, winner, time) VALUES ('p', 'x', 'y', 'tie', 1.0);
    """)
    con.commit()
    con.close()
    with pytest.raises(BimoError, match=r"old.sqlite is not a usable battle store \(no such column: battle_id\)"):
        BattleStore(db)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM battles").fetchone() == (1,)  # nothing lost
    con.close()
