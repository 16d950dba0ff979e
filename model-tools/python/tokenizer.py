"""A small WordPiece vocabulary for the demo captioner, written as a Hugging Face
tokenizer.json (BERT normaliser and pre-tokeniser, WordPiece model and decoder), the same file
type real BLIP ships, so the gateway reads both the same way.

Ids follow BERT's layout in miniature: [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4, plus
BLIP's decoder start token [DEC]=5. Generation starts from [DEC] and ends on [SEP].
"""
from __future__ import annotations

import json
import re
import string
from pathlib import Path

SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '[DEC]']
PAD, UNK, CLS, SEP, MASK, DEC = range(6)

# BERT's basic tokeniser splits on whitespace and isolates every punctuation character.
_WORDS = re.compile(r'[a-z0-9]+|[^\sa-z0-9]')


def basic_tokens(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


class WordPiece:
    def __init__(self, vocab: list[str]):
        self.vocab = vocab
        self.ids = {t: i for i, t in enumerate(vocab)}

    @classmethod
    def build(cls, texts: list[str]) -> 'WordPiece':
        """Specials, every word and punctuation mark in `texts`, then single letters and digits
        with their ## continuations so any lower-case word still word-pieces without [UNK]."""
        words = sorted({w for t in texts for w in basic_tokens(t)})
        chars = list(string.ascii_lowercase + string.digits)
        pieces = chars + ['##' + c for c in chars]
        vocab = SPECIALS + words + [p for p in pieces if p not in words] + [p for p in string.punctuation if p not in words]
        return cls(vocab)

    def encode_word(self, word: str) -> list[int]:
        """Greedy longest-match WordPiece, as BERT does."""
        if word in self.ids:
            return [self.ids[word]]
        out, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else '##' + word[start:end]
                if piece in self.ids:
                    out.append(self.ids[piece])
                    break
                end -= 1
            if end == start:
                return [UNK]
            start = end
        return out

    def encode(self, text: str) -> list[int]:
        return [i for w in basic_tokens(text) for i in self.encode_word(w)]

    def decode(self, ids: list[int]) -> str:
        text = ''
        for i in ids:
            tok = self.vocab[i]
            if tok in SPECIALS:
                continue
            text += tok[2:] if tok.startswith('##') else (' ' + tok if text else tok)
        # WordPiece decoder cleanup: no space before punctuation.
        return re.sub(r' ([.,!?])', r'\1', text)

    def write_tokenizer_json(self, path: Path) -> None:
        added = [
            {'id': i, 'content': t, 'single_word': False, 'lstrip': False, 'rstrip': False, 'normalized': False, 'special': True}
            for i, t in enumerate(SPECIALS)
        ]
        doc = {
            'version': '1.0',
            'truncation': None,
            'padding': None,
            'added_tokens': added,
            'normalizer': {'type': 'BertNormalizer', 'clean_text': True, 'handle_chinese_chars': True, 'strip_accents': None, 'lowercase': True},
            'pre_tokenizer': {'type': 'BertPreTokenizer'},
            'post_processor': {
                'type': 'TemplateProcessing',
                'single': [{'SpecialToken': {'id': '[CLS]', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}, {'SpecialToken': {'id': '[SEP]', 'type_id': 0}}],
                'pair': [
                    {'SpecialToken': {'id': '[CLS]', 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}, {'SpecialToken': {'id': '[SEP]', 'type_id': 0}},
                    {'Sequence': {'id': 'B', 'type_id': 1}}, {'SpecialToken': {'id': '[SEP]', 'type_id': 1}},
                ],
                'special_tokens': {t: {'id': t, 'ids': [self.ids[t]], 'tokens': [t]} for t in ('[CLS]', '[SEP]')},
            },
            'decoder': {'type': 'WordPiece', 'prefix': '##', 'cleanup': True},
            'model': {
                'type': 'WordPiece', 'unk_token': '[UNK]', 'continuing_subword_prefix': '##',
                'max_input_chars_per_word': 100, 'vocab': self.ids,
            },
        }
        path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + '\n')
