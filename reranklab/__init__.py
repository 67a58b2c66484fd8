"""RerankLab: compare BM25 first-stage retrieval with rerankers on your own documents.

The package never imports streamlit, so the CLI, the tests and the benchmarks use it
directly. The main entry points:

    from reranklab.corpus import Corpus
    from reranklab.compare import compare

    corpus = Corpus.from_paths(["notes.md", "papers.jsonl.gz"])
    comparison = compare("what causes scurvy", corpus, rerankers={})
"""

__version__ = "0.1.0"
