"""Plain-text algorithms with no pipeline knowledge: page text clean-up (NFKC, running headers, hyphenation),
sentence / term / formula rules, exact + MinHash near-duplicate detection and n-gram decontamination, OCR character
error rate.

    dehyphenate(["photo-", "synthesis and"])  ->  ["photosynthesis and"]
"""
