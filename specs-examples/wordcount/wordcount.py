"""Count the words of a text file with Spark; print each word seen at least --min-count times."""

import argparse
import sys

from pyspark.sql import SparkSession


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--min-count", type=int, default=1)
    options = parser.parse_args()
    spark = SparkSession.builder.appName("wordcount").getOrCreate()
    try:
        lines = spark.sparkContext.textFile(options.input)
        counts = (lines.flatMap(lambda line: line.lower().split())
                  .map(lambda word: (word.strip(".,;:!?\"'()"), 1))
                  .filter(lambda pair: pair[0])
                  .reduceByKey(lambda a, b: a + b)
                  .filter(lambda pair: pair[1] >= options.min_count)
                  .collect())
    finally:
        spark.stop()
    for word, count in sorted(counts, key=lambda pair: (-pair[1], pair[0])):
        print(f"{word}\t{count}")
    print(f"{len(counts)} words seen at least {options.min_count} times", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
