/* signals.c - see signals.h. */
#include "core/signals.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  if (g_stop) _exit(128 + sig); /* asked twice: stop now */
  g_stop = sig;
}

void mh_signals_install(void) {
  static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, NULL);
}

void mh_signals_default(void) {
  static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
}

int mh_stop_signal(void) { return g_stop; }

void mh_stop_learned(void) {
  if (!g_stop) g_stop = -1;
}

const char *mh_signal_name(int sig) {
  switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    case SIGUSR1: return "SIGUSR1";
    case -1: return "a signal to another rank";
  }
  return "a signal";
}
