// Invariant checks for the libFuzzer targets: a violated invariant prints what and
// where, then aborts, which libFuzzer reports as a crash and saves the input.
#ifndef METRICS_KEDA_FUZZ_FUZZ_CHECK_H_
#define METRICS_KEDA_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define MK_FUZZ_CHECK(condition, ...)                                                      \
  do {                                                                                      \
    if (!(condition)) {                                                                     \
      std::fprintf(stderr, "%s:%d: invariant violated: %s\n  ", __FILE__, __LINE__,        \
                   #condition);                                                             \
      std::fprintf(stderr, __VA_ARGS__);                                                    \
      std::fputc('\n', stderr);                                                             \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)

#endif  // METRICS_KEDA_FUZZ_FUZZ_CHECK_H_
