"""Writes hypothesis/reference pairs covering Rouge-L edge cases and the scores the
`rouge` 1.0.1 package gives them (0 where it raises ValueError, as the reference does).
tests/rouge_test.cpp reads the committed output.
Usage: rouge_pairs.py [OUT_DIR]  (default tests/data/rouge) -> OUT_DIR/hyp.txt, OUT_DIR/ref.txt,
OUT_DIR/scores.json ({"rouge": version, "scores": [one per line]})"""
import importlib.metadata
import json
import random
import sys

from rouge import Rouge

WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "The", "cat,", "mat!", "über",
         "naïve", "日本", "x", "(y)", "sat.", "", "well-known", "it's"]
SEPARATORS = [" ", "  ", "\t", ". ", ".", " . ", "\u00a0", "\u3000", "..", " .  "]


def random_text(rng):
    if rng.random() < 0.05:
        return rng.choice(["", ".", "...", " ", " . "])
    parts = []
    for _ in range(rng.randint(1, 14)):
        parts.append(rng.choice(WORDS))
        parts.append(rng.choice(SEPARATORS))
    return "".join(parts).strip("\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/rouge"
    rng = random.Random(1234)
    fixed = [("the cat sat on the mat", "the cat sat on the mat"),
             ("the cat the cat the cat", "the cat sat"),
             ("a b c. c b a. a", "a c b. b a"),
             ("", "anything"), ("...", "a b"), ("the end.", ""),
             ("one two three four five", "five four three two one")]
    pairs = fixed + [(random_text(rng), random_text(rng)) for _ in range(400)]
    scorer = Rouge()
    scores = []
    for hyp, ref in pairs:
        try:
            scores.append(scorer.get_scores(hyp, ref)[0]["rouge-l"]["f"])
        except ValueError:
            scores.append(0.0)
    with open(f"{out}/hyp.txt", "w", encoding="utf-8") as f:
        f.write("".join(h + "\n" for h, _ in pairs))
    with open(f"{out}/ref.txt", "w", encoding="utf-8") as f:
        f.write("".join(r + "\n" for _, r in pairs))
    with open(f"{out}/scores.json", "w") as f:
        json.dump({"rouge": importlib.metadata.version("rouge"), "scores": scores}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
