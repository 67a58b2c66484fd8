"""Build the bundled sample corpus from BEIR SciFact.

The sample holds the abstracts judged relevant to 30 SciFact test claims plus the
abstracts that BM25 ranks in the top 10 for them over the full collection, so every
claim has realistic distractors. Example queries are the claims where the bi-encoder
puts a relevant abstract higher than BM25 does within the sample.

    PYTHONPATH=. python scripts/make_sample_corpus.py PATH/TO/scifact assets

Writes `sample_corpus.jsonl`, `sample_queries.jsonl`, `sample_qrels.tsv` and
`example_queries.json` into the output folder, and the bi-encoder embeddings of the
sample's passages at the default chunking into `embeddings/`, so the app's first query
on the sample does not wait for the encoder.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
from pathlib import Path

import numpy as np

from reranklab.bm25 import BM25Index
from reranklab.corpus import Corpus
from reranklab.documents import Passage
from reranklab.embedding_cache import EmbeddingCache
from reranklab.models import DEFAULT_BI_ENCODER, load_bi_encoder, model_fingerprint, resolve_model
from reranklab.rerankers import BiEncoderReranker

QUERY_COUNT = 30
NEIGHBOURS = 10
EXAMPLE_COUNT = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scifact", type=Path)
    parser.add_argument("output", type=Path)
    args = parser.parse_args()

    with gzip.open(args.scifact / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        documents = [json.loads(line) for line in handle]
    queries = {}
    for line in (args.scifact / "queries.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        queries[record["_id"]] = record["text"]
    qrels: dict[str, set[str]] = {}
    with open(args.scifact / "qrels" / "test.tsv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])

    # Step 1: pick every tenth test claim, for a spread of topics.
    query_ids = sorted(qrels, key=int)[::10][:QUERY_COUNT]

    # Step 2: the relevant abstracts and BM25's top 10 over the full collection.
    full = BM25Index.build([_passage(d) for d in documents])
    chosen: set[str] = set()
    for query_id in query_ids:
        chosen |= qrels[query_id]
        chosen |= {item.passage.doc_id for item in full.search(queries[query_id], top_k=NEIGHBOURS)}
    sample = [d for d in documents if d["_id"] in chosen]

    # Step 3: example queries where the bi-encoder lifts a relevant abstract above BM25.
    passages = [_passage(d) for d in sample]
    index = BM25Index.build(passages)
    model = load_bi_encoder(DEFAULT_BI_ENCODER)
    embeddings = model.encode([p.full_text for p in passages], normalize_embeddings=True)
    row_of = {p.doc_id: i for i, p in enumerate(passages)}
    gains = []
    for query_id in query_ids:
        bm25_order = [item.passage.doc_id for item in index.search(queries[query_id], top_k=100)]
        if not bm25_order:
            continue
        query_embedding = model.encode([queries[query_id]], normalize_embeddings=True)[0]
        scores = embeddings[[row_of[d] for d in bm25_order]] @ query_embedding
        dense_order = [bm25_order[i] for i in np.argsort(-scores, kind="stable")]
        relevant = qrels[query_id]
        bm25_best = min((bm25_order.index(d) for d in relevant if d in bm25_order), default=100)
        dense_best = min((dense_order.index(d) for d in relevant if d in dense_order), default=100)
        gains.append((bm25_best - dense_best, query_id))
    examples = [query_id for gain, query_id in sorted(gains, reverse=True)[:EXAMPLE_COUNT] if gain > 0]

    args.output.mkdir(parents=True, exist_ok=True)
    with open(args.output / "sample_corpus.jsonl", "w", encoding="utf-8") as handle:
        for document in sample:
            handle.write(json.dumps(document, ensure_ascii=False) + "\n")
    with open(args.output / "sample_queries.jsonl", "w", encoding="utf-8") as handle:
        for query_id in query_ids:
            handle.write(json.dumps({"_id": query_id, "text": queries[query_id]}, ensure_ascii=False) + "\n")
    with open(args.output / "sample_qrels.tsv", "w", encoding="utf-8") as handle:
        handle.write("query-id\tcorpus-id\tscore\n")
        for query_id in query_ids:
            for doc_id in sorted(qrels[query_id]):
                handle.write(f"{query_id}\t{doc_id}\t1\n")
    (args.output / "example_queries.json").write_text(
        json.dumps([queries[q] for q in examples], ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )

    # Step 4: embeddings of the passages at the default chunking, keyed as the app looks them up.
    corpus = Corpus.from_paths([args.output / "sample_corpus.jsonl"])
    cache = EmbeddingCache(args.output / "embeddings")
    for stale in cache.directory.glob("*.npy"):
        stale.unlink()
    fingerprint = model_fingerprint(resolve_model(DEFAULT_BI_ENCODER))
    BiEncoderReranker(model, fingerprint, cache=cache).index(corpus.passages)
    print(f"{len(sample)} abstracts, {len(corpus.passages)} passages, {len(query_ids)} queries, {len(examples)} examples")


def _passage(document: dict) -> Passage:
    return Passage(
        passage_id=f"{document['_id']}#0",
        doc_id=document["_id"],
        text=document["text"],
        title=document.get("title", ""),
    )


if __name__ == "__main__":
    main()
