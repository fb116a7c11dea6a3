"""Code similarity across a class: evidence of copying for a person to weigh, never a verdict.

In order: ``extract`` (each required function as grading finds it), ``normalise`` (a token
stream without names, layout, comments, dead code or incidental order), ``fingerprint`` (k-grams
of it), ``index`` (fingerprint -> students, weighted by rarity; pairs scored from shared rare
fingerprints only), ``compare`` (the whole run), ``page`` (similarity.html), ``cli``.
"""
