import itertools
import json

import numpy as np
import pytest
from transformers import BertTokenizer

from enhancerlm.errors import InputError
from enhancerlm.models.tokenize import KmerTokenizer, kmer_size_of_vocabulary, kmer_vocabulary, load_tokenizer


def kmers(sequence: str, k: int) -> list[str]:
    """Overlapping k-mers as strings: the reference the vectorised tokenizer is checked against."""
    return [sequence[i : i + k] for i in range(len(sequence) - k + 1)]


def test_kmers_hand_computed():
    assert kmers("ACGTAC", 3) == ["ACG", "CGT", "GTA", "TAC"]
    assert kmers("ACGTAC", 6) == ["ACGTAC"]
    assert len(kmers("A" * 200, 4)) == 197  # 201 - k


def test_vocabulary_follows_dnabert_layout():
    vocabulary = kmer_vocabulary(3)
    assert vocabulary[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    # DNABERT enumerates k-mers in A, T, C, G order
    assert vocabulary[5:10] == ["AAA", "AAT", "AAC", "AAG", "ATA"]
    assert vocabulary[-1] == "GGG"
    for k in range(3, 7):
        assert len(kmer_vocabulary(k)) == 4**k + 5
    with pytest.raises(InputError, match="3, 4, 5, 6"):
        kmer_vocabulary(7)


def test_token_ids_hand_computed():
    tokenizer = KmerTokenizer.for_kmer(3)
    # ACG: A=0, C=2, G=3 in ATCG order -> 0*16 + 2*4 + 3 = 11, plus 5 special tokens = 16
    # CGT: 2*16 + 3*4 + 1 = 45 -> 50;  GTA: 3*16 + 1*4 + 0 = 52 -> 57
    assert tokenizer.token_ids("ACGTA").tolist() == [16, 50, 57]
    assert tokenizer.token_ids("acgta").tolist() == [16, 50, 57]  # soft-masking is sequence-neutral
    # every k-mer touching an N is [UNK] (id 1)
    assert tokenizer.token_ids("ACNTAC").tolist() == [1, 1, 1, tokenizer.vocabulary.index("TAC")]


def test_encode_pads_and_masks():
    batch = KmerTokenizer.for_kmer(3).encode(["ACGTA", "ACGTAC"])
    assert batch.input_ids.tolist() == [[2, 16, 50, 57, 3, 0], [2, 16, 50, 57, 23, 3]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]]
    assert batch.sequence_mask.tolist() == [[0, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 0]]


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_saved_vocabulary_matches_bert_tokenizer(tmp_path, k):
    """A saved tokenizer is a plain BERT vocab.txt: BertTokenizer on space-joined k-mers gives our ids."""
    tokenizer = KmerTokenizer.for_kmer(k)
    tokenizer.save_pretrained(tmp_path)
    bert = BertTokenizer.from_pretrained(str(tmp_path))
    rng = np.random.default_rng(k)
    for sequence in ["".join(rng.choice(list("ACGT"), 200)), "ACGTN" * 10]:
        expected = bert(" ".join(kmers(sequence, k)))["input_ids"]
        assert tokenizer.encode([sequence]).input_ids[0].tolist() == expected


def test_load_tokenizer_reads_dnabert_vocab(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(kmer_vocabulary(5)) + "\n")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False, "max_len": 512}))
    tokenizer = load_tokenizer(tmp_path)
    assert isinstance(tokenizer, KmerTokenizer)
    assert tokenizer.k == 5 and tokenizer.model_max_length == 512
    assert tokenizer.max_nucleotides(512) == 514  # 510 k-mers of 5 nt


def test_kmer_size_of_vocabulary_rejects_other_vocabularies():
    assert kmer_size_of_vocabulary(kmer_vocabulary(4)) == 4
    assert kmer_size_of_vocabulary(["[PAD]", "A", "C", "G", "T"]) is None  # single nucleotides go through AutoTokenizer
    incomplete = kmer_vocabulary(3)[:-1]
    assert kmer_size_of_vocabulary(incomplete) is None
    assert kmer_size_of_vocabulary(["[PAD]", "hello", "world"]) is None


def test_too_long_sequence_is_an_error():
    tokenizer = KmerTokenizer.for_kmer(3, model_max_length=10)
    tokenizer.encode(["A" * 10])  # 8 k-mers + 2 specials
    with pytest.raises(InputError, match="more than the model's 10"):
        tokenizer.encode(["A" * 11])


def test_every_kmer_has_a_distinct_id():
    tokenizer = KmerTokenizer.for_kmer(4)
    all_kmers = ["".join(p) for p in itertools.product("ACGT", repeat=4)]
    ids = tokenizer.token_ids("".join(all_kmers))[::4]  # non-overlapping positions are the k-mers themselves
    assert sorted(ids.tolist()) == list(range(5, 5 + 256))
