"""Tokenizers: DNABERT-style overlapping k-mers, and any Hugging Face tokenizer.

Both expose the same small interface, `encode(sequences) -> TokenBatch`, so that the model,
trainer and scorers never care which kind of tokenizer a checkpoint came with.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from enhancerlm.core.dna import BASE_CODE
from enhancerlm.errors import InputError

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


DNABERT_ALPHABET = "ATCG"  # DNABERT enumerates k-mers in this base order


KMER_RANGE = range(3, 7)


VOCAB_FILE = "vocab.txt"


@dataclass
class TokenBatch:
    """Padded token ids with two masks: attention (all real tokens) and sequence (no specials)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    sequence_mask: torch.Tensor

    def to(self, device: torch.device | str) -> "TokenBatch":
        return TokenBatch(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.sequence_mask)))

    def __getitem__(self, index) -> "TokenBatch":
        return TokenBatch(self.input_ids[index], self.attention_mask[index], self.sequence_mask[index])


class SequenceTokenizer(Protocol):
    """What the rest of enhancerlm needs from a tokenizer."""

    kind: str
    vocab_size: int
    pad_token_id: int
    model_max_length: int

    def encode(self, sequences: list[str]) -> TokenBatch: ...

    def encode_with_offsets(self, sequences: list[str]) -> tuple[TokenBatch, np.ndarray | None]: ...

    def max_nucleotides(self, max_tokens: int) -> int: ...

    def save_pretrained(self, directory: str | Path) -> None: ...


def kmer_codes(sequence: str | np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Base-4 code of every overlapping k-mer (A=0, C=1, G=2, T=3, first base most significant), and
    whether the k-mer is made of ACGT only (codes of the others are 0). Case-insensitive.

    `sequence` is a string or an array of ASCII bytes; a 2-D array of equal-length windows gives one
    row of k-mers per window.
    """
    raw = np.frombuffer(sequence.encode("ascii"), dtype=np.uint8) if isinstance(sequence, str) else sequence
    bases = BASE_CODE[raw]
    n_kmers = bases.shape[-1] - k + 1
    if n_kmers < 1:
        return np.zeros((*bases.shape[:-1], 0), dtype=np.int64), np.zeros((*bases.shape[:-1], 0), dtype=bool)
    code = np.zeros((*bases.shape[:-1], n_kmers), dtype=np.int64)
    valid = np.ones(code.shape, dtype=bool)
    for offset in range(k):
        base = bases[..., offset : offset + n_kmers]
        code = code * 4 + base
        valid &= base < 4
    return np.where(valid, code, 0), valid


def kmer_vocabulary(k: int) -> list[str]:
    """DNABERT's vocabulary: the five special tokens, then all 4^k k-mers in its base order."""
    if k not in KMER_RANGE:
        raise InputError(f"k-mer size must be one of {list(KMER_RANGE)}, got {k}")
    return list(SPECIAL_TOKENS) + ["".join(p) for p in itertools.product(DNABERT_ALPHABET, repeat=k)]


class KmerTokenizer:
    """Overlapping k-mer tokenizer with DNABERT's vocabulary layout, vectorised with numpy.

    Saved as a standard BERT `vocab.txt`, so `BertTokenizer` on space-joined k-mers gives the
    same ids, and DNABERT-k checkpoints load with their own vocabulary.
    """

    kind = "kmer"

    def __init__(self, vocabulary: list[str], k: int, model_max_length: int = 512):
        self.vocabulary = vocabulary
        self.k = k
        self.model_max_length = model_max_length
        index = {token: i for i, token in enumerate(vocabulary)}
        missing = [t for t in SPECIAL_TOKENS if t not in index]
        if missing:
            raise InputError(f"k-mer vocabulary lacks special tokens {missing}")
        self.pad_token_id, self.unk_token_id = index["[PAD]"], index["[UNK]"]
        self.cls_token_id, self.sep_token_id = index["[CLS]"], index["[SEP]"]
        self.mask_token_id = index["[MASK]"]
        # base-4 code of a k-mer (A=0, C=1, G=2, T=3, first base most significant) -> vocabulary id
        self._code_to_id = np.full(4**k, self.unk_token_id, dtype=np.int64)
        for token, token_id in index.items():
            if len(token) == k and set(token) <= set("ACGT"):
                self._code_to_id[_kmer_code(token)] = token_id
        if (self._code_to_id == self.unk_token_id).any():
            raise InputError(f"k-mer vocabulary for k={k} does not hold all {4**k} k-mers")

    @property
    def vocab_size(self) -> int:
        return len(self.vocabulary)

    @classmethod
    def for_kmer(cls, k: int, model_max_length: int = 512) -> "KmerTokenizer":
        return cls(kmer_vocabulary(k), k, model_max_length)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "KmerTokenizer":
        directory = Path(directory)
        vocabulary = (directory / VOCAB_FILE).read_text().splitlines()
        k = kmer_size_of_vocabulary(vocabulary)
        if k is None:
            raise InputError(f"{directory / VOCAB_FILE}: not a k-mer vocabulary")
        config = _read_json(directory / "tokenizer_config.json")
        max_length = config.get("model_max_length") or config.get("max_len") or 512
        return cls(vocabulary, k, int(min(max_length, 1_000_000)))

    def save_pretrained(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / VOCAB_FILE).write_text("\n".join(self.vocabulary) + "\n")
        config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": False,
            "do_basic_tokenize": True,
            "model_max_length": self.model_max_length,
            "enhancerlm_kmer": self.k,
        }
        (directory / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
        specials = {
            "pad_token": "[PAD]",
            "unk_token": "[UNK]",
            "cls_token": "[CLS]",
            "sep_token": "[SEP]",
            "mask_token": "[MASK]",
        }
        (directory / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n")

    def max_nucleotides(self, max_tokens: int) -> int:
        """Longest sequence whose k-mers plus [CLS] and [SEP] fit in `max_tokens`."""
        return max_tokens - 2 + self.k - 1

    def token_ids(self, sequence: str) -> np.ndarray:
        """Vocabulary ids of the overlapping k-mers; k-mers with a base outside ACGT are [UNK]."""
        if len(sequence) < self.k:
            raise InputError(f"sequence of length {len(sequence)} is shorter than k={self.k}")
        code, valid = kmer_codes(sequence, self.k)
        return np.where(valid, self._code_to_id[code], self.unk_token_id)

    def encode_windows(self, windows: np.ndarray) -> TokenBatch:
        """Tokens of equal-length windows given as an (n, length) array of ASCII bases: no padding,
        no per-sequence Python work, so a genome scan tokenizes at array speed."""
        code, valid = kmer_codes(windows, self.k)
        if code.shape[1] + 2 > self.model_max_length:
            raise InputError(
                f"windows of {windows.shape[1]} nt give {code.shape[1] + 2} tokens, more than the "
                f"model's {self.model_max_length}"
            )
        input_ids = np.empty((len(code), code.shape[1] + 2), dtype=np.int64)
        input_ids[:, 0], input_ids[:, -1] = self.cls_token_id, self.sep_token_id
        input_ids[:, 1:-1] = np.where(valid, self._code_to_id[code], self.unk_token_id)
        sequence_mask = np.ones_like(input_ids)
        sequence_mask[:, [0, -1]] = 0
        return TokenBatch(
            torch.from_numpy(input_ids),
            torch.ones_like(torch.from_numpy(sequence_mask)),
            torch.from_numpy(sequence_mask),
        )

    def encode(self, sequences: list[str]) -> TokenBatch:
        rows = [self.token_ids(s) for s in sequences]
        length = max(len(r) for r in rows) + 2
        if length > self.model_max_length:
            raise InputError(
                f"a sequence gives {length} tokens, more than the model's {self.model_max_length}; "
                f"split sequences longer than {self.max_nucleotides(self.model_max_length)} nt"
            )
        input_ids = np.full((len(rows), length), self.pad_token_id, dtype=np.int64)
        sequence_mask = np.zeros((len(rows), length), dtype=np.int64)
        for i, row in enumerate(rows):
            input_ids[i, 0] = self.cls_token_id
            input_ids[i, 1 : len(row) + 1] = row
            input_ids[i, len(row) + 1] = self.sep_token_id
            sequence_mask[i, 1 : len(row) + 1] = 1
        input_ids = torch.from_numpy(input_ids)
        return TokenBatch(input_ids, (input_ids != self.pad_token_id).long(), torch.from_numpy(sequence_mask))

    def encode_with_offsets(self, sequences: list[str]) -> tuple[TokenBatch, None]:
        """Tokens and no offsets: a k-mer token's nucleotides follow from its place (`nucleotide_scores`)."""
        return self.encode(sequences), None


class HuggingFaceTokenizer:
    """Any `AutoTokenizer` (BPE, single-nucleotide, 6-mer non-overlapping) behind the same interface."""

    kind = "huggingface"

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.vocab_size = len(tokenizer)
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.model_max_length = int(min(tokenizer.model_max_length, 1_000_000))

    @classmethod
    def from_pretrained(cls, directory: str | Path, trust_remote_code: bool = False) -> "HuggingFaceTokenizer":
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(str(directory), trust_remote_code=trust_remote_code))

    def save_pretrained(self, directory: str | Path) -> None:
        self.tokenizer.save_pretrained(str(directory))

    def max_nucleotides(self, max_tokens: int) -> int:
        """A safe sequence length for `max_tokens`: one nucleotide per token (the worst case)."""
        return max_tokens - 2

    def encode(self, sequences: list[str]) -> TokenBatch:
        encoded = self.tokenizer(list(sequences), padding=True, return_special_tokens_mask=True, return_tensors="pt")
        attention = encoded["attention_mask"].long()
        sequence_mask = attention * (1 - encoded["special_tokens_mask"].long())
        return TokenBatch(encoded["input_ids"].long(), attention, sequence_mask)

    def encode_with_offsets(self, sequences: list[str]) -> tuple[TokenBatch, np.ndarray]:
        """Tokens and each token's (start, end) in its sequence; specials and padding get (0, 0)."""
        if not getattr(self.tokenizer, "is_fast", False):
            raise InputError("attributions for this tokenizer need its offsets, which only fast tokenizers give")
        encoded = self.tokenizer(
            list(sequences),
            padding=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_tensors="pt",
        )
        attention = encoded["attention_mask"].long()
        sequence_mask = attention * (1 - encoded["special_tokens_mask"].long())
        offsets = encoded["offset_mapping"].numpy() * sequence_mask.numpy()[..., None]
        return TokenBatch(encoded["input_ids"].long(), attention, sequence_mask), offsets


def kmer_size_of_vocabulary(vocabulary: list[str]) -> int | None:
    """k if the vocabulary is DNABERT's k-mer layout (all 4^k k-mers plus specials), else None."""
    words = [w for w in vocabulary if w and w not in SPECIAL_TOKENS]
    sizes = {len(w) for w in words}
    if len(sizes) != 1 or not all(set(w) <= set("ACGT") for w in words):
        return None
    k = sizes.pop()
    return k if k in KMER_RANGE and len(set(words)) == 4**k else None


def load_tokenizer(directory: str | Path, trust_remote_code: bool = False) -> SequenceTokenizer:
    """The tokenizer a checkpoint directory was saved with: k-mer if its vocab.txt is one."""
    vocab_path = Path(directory) / VOCAB_FILE
    if vocab_path.exists() and kmer_size_of_vocabulary(vocab_path.read_text().splitlines()) is not None:
        return KmerTokenizer.from_pretrained(directory)
    return HuggingFaceTokenizer.from_pretrained(directory, trust_remote_code=trust_remote_code)


def _kmer_code(kmer: str) -> int:
    code = 0
    for base in kmer:
        code = code * 4 + "ACGT".index(base)
    return code


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}
