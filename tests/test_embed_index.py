import numpy as np

from service.encoding.embed import embed_texts, embedding_key
from service.encoding.index import PassageIndex, interleave
from service.settings import Settings
from service.store import Store

MODEL = "all-MiniLM-L6-v2"


def test_embeddings_are_unit_length_float32():
    vectors = embed_texts(["We reduced emissions.", "Child labour is prohibited."], MODEL)
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_turns_report_progress_and_keep_the_order_of_the_texts():
    # lengths vary, so the longest-first order differs from the given one
    texts = [("word " * (i % 17 + 1)) + str(i) for i in range(100)]
    heard: list[float] = []
    vectors = embed_texts(texts, MODEL, batch_size=8, on_progress=heard.append)
    assert heard == [0.32, 0.64, 0.96, 1.0]  # turns of 4 batches of 8
    one_by_one = np.stack([embed_texts([t], MODEL)[0] for t in texts[:5]])
    assert np.allclose(vectors[:5], one_by_one, atol=1e-4)


def test_cache_returns_identical_vectors_without_recomputing(tmp_path):
    store = Store.open(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    texts = ["Water withdrawal fell by 12%.", "Our grievance mechanism is open to all workers."]
    first = embed_texts(texts, MODEL, store)
    keys = [embedding_key(MODEL, t) for t in texts]
    assert set(store.get_vectors(keys)) == set(keys)
    # Overwrite one cached vector: a second call must return the cached one, proving no re-encode.
    marker = np.zeros(384, dtype=np.float32)
    marker[0] = 1.0
    with store.session() as s:
        from service.store import EmbeddingRow

        s.get(EmbeddingRow, keys[0]).vector = marker.tobytes()
    second = embed_texts(texts, MODEL, store)
    assert np.array_equal(second[0], marker)
    assert np.allclose(second[1], first[1])


def test_index_search_filter_persist_and_reload(tmp_path):
    texts = [
        "Scope 1 and 2 greenhouse gas emissions fell by 30%.",
        "We donated laptops to schools.",
        "Our suppliers are audited for forced labour.",
        "Net-zero emissions by 2050.",
    ]
    vectors = embed_texts(texts, MODEL)
    index = PassageIndex(tmp_path / "index", MODEL, 384)
    index.add([10, 11, 12, 13], vectors)
    query = embed_texts(["carbon emissions reduction"], MODEL)[0]
    top = index.search(query, k=2)
    assert {i for i, _ in top} == {10, 13}
    only = index.search(query, k=2, allowed=[11, 12])
    assert {i for i, _ in only} <= {11, 12}
    reloaded = PassageIndex(tmp_path / "index", MODEL, 384)
    assert reloaded.load(expected_count=4)
    assert reloaded.search(query, k=1)[0][0] == top[0][0]
    assert not PassageIndex(tmp_path / "index", MODEL, 384).load(expected_count=5)
    assert not PassageIndex(tmp_path / "index", "other-model", 384).load(expected_count=4)


def test_int8_onnx_encoder_tracks_the_pytorch_one(tmp_path, monkeypatch):
    """The optional int8 export stays close enough to share the trained heads."""
    from classifiers.linear import LinearClassifier
    from service.encoding.embed import encode
    from service.frameworks import load_framework

    monkeypatch.setenv("GAPLENS_MODEL_CACHE", str(tmp_path))  # read when the encoder is first loaded
    texts = [
        "Scope 1 and 2 emissions fell 41% against our 2019 baseline.",
        "Women hold 40% of management positions and the gender pay gap has been closed.",
        "The annual general meeting will take place in Vienna on 14 May.",
    ]
    int8 = encode(texts, "all-MiniLM-L6-v2-int8")
    fp32 = encode(texts, "all-MiniLM-L6-v2")
    assert list(tmp_path.glob("all-MiniLM-L6-v2-*-int8w7.onnx"))
    assert float(np.min(np.sum(int8 * fp32, axis=1))) > 0.97
    head = LinearClassifier(load_framework("sdg", Settings().corpora_dir), "all-MiniLM-L6-v2-int8")
    assert [r.labels for r in head.predict(int8, ["a", "b", "c"], texts)][:2] == [("13",), ("5",)]


def test_onnx_runtime_gives_the_pytorch_vectors(tmp_path, monkeypatch):
    from service.encoding.embed import encode

    monkeypatch.setenv("GAPLENS_MODEL_CACHE", str(tmp_path))
    texts = [
        "Scope 1 and 2 emissions fell 41% against our 2019 baseline.",
        "Suppliers sign our code of conduct.",
    ]
    onnx = encode(texts, "all-MiniLM-L6-v2", runtime="onnx")
    torch = encode(texts, "all-MiniLM-L6-v2", runtime="torch")
    assert list(tmp_path.glob("all-MiniLM-L6-v2-*-fp32.onnx"))
    assert float(np.min(np.sum(onnx * torch, axis=1))) > 0.9999


def test_parts_of_the_index_are_merged_rank_by_rank_whatever_their_scales():
    minilm = [(1, 0.61), (2, 0.40), (3, 0.20)]
    e5 = [(7, 0.88), (8, 0.86)]  # e5's cosines sit high for any text: they must not crowd MiniLM's out
    assert interleave([minilm, e5], k=4) == [(7, 0.88), (1, 0.61), (8, 0.86), (2, 0.40)]
    assert interleave([minilm], k=2) == minilm[:2]
    assert interleave([], k=3) == []
