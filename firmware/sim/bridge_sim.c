/*
 * bridge_sim: runs the paindiffusion bridge firmware (an AVR ELF) in simavr, with its host link and
 * its Dynamixel line each on a pseudo-terminal, so the real host driver and the MX-64 emulator talk
 * to the real firmware binary.
 *
 *   bridge_sim --mcu atmega2560|atmega328p --elf FIRMWARE.elf --host PATH [--dxl PATH]
 *              [--pot-mv MV] [--grace-ms MS]
 *
 * Host link: a new pty whose slave is reached through the symlink PATH (like /dev/ttyUSB0). The
 * Mega's host UART is USART1; the Uno's is SoftwareSerial on D7 (RX) / D8 (TX) at 57600 baud, which
 * this harness drives and decodes bit by bit in simulated time.
 * Dynamixel line: USART0 through a model of the ROBOTIS DYNAMIXEL Shield's half-duplex buffer (D2
 * HIGH: the board drives the bus, LOW: it listens). Bytes the board sends are written to the device
 * at --dxl (opened like a serial adapter) once the direction pin turns to receive; bytes sent while
 * the pin is LOW, or cut off by turning it early, never reach the bus (reported on stderr). Bytes
 * from the device are delivered only while the pin is LOW.
 * Potentiometer: --pot-mv millivolts on ADC0 (A0), AVCC = 5 V.
 * Each USART's baud rate is checked at its first byte against the other end's (reported on stderr).
 *
 * Time: simulated time never runs ahead of wall-clock time (the harness sleeps instead), so the
 * firmware's timeouts are at least as long as on a board. While the firmware waits for a status
 * packet the simulation is paused until the packet has arrived whole, or until --grace-ms (default
 * 500) of wall-clock time has passed without it: the emulator's scheduling delays on a loaded host
 * are thus invisible to the firmware, and only a status packet that never comes makes it time out.
 *
 * stdin, one command a line: "unplug" / "replug" (the host adapter's pty goes away / comes back at
 * PATH), "pot MV". End of input stops the simulation. stdout: "ready" once PATH exists.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "avr_adc.h"
#include "avr_extint.h"
#include "avr_ioport.h"
#include "avr_uart.h"
#include "sim_avr.h"
#include "sim_elf.h"

#define F_CPU 16000000UL
#define SLICE_CYCLES 8000          /* 0.5 ms of simulated time between looks at the ptys */
#define AHEAD_SLACK_S 0.002        /* how far simulated time may lead wall-clock time */
#define REOPEN_INTERVAL_S 0.02     /* retry opening an unplugged Dynamixel device */
#define QUEUE_SIZE 4096
#define MAX_PACKET 256
#define DXL_BAUD 1000000UL
#define BAUD_TOLERANCE 0.03        /* what a USB-serial adapter or an MX-64 takes (115200 on 16 MHz: 2.1 %) */
/* USART registers (data-space addresses, ATmega328P and ATmega2560 datasheets). */
#define UCSR0A 0xC0
#define UCSR0B 0xC1
#define UBRR0L 0xC4
#define UBRR0H 0xC5
#define UCSR1A 0xC8
#define UCSR1B 0xC9
#define UBRR1L 0xCC
#define UBRR1H 0xCD
#define U2X_BIT 1
#define RXEN_BIT 4

typedef struct {
  uint8_t bytes[QUEUE_SIZE];
  size_t head, count;
} queue_t;

static void queue_put(queue_t *q, uint8_t byte) {
  if (q->count == QUEUE_SIZE) return;
  q->bytes[(q->head + q->count++) % QUEUE_SIZE] = byte;
}

static int queue_get(queue_t *q) {
  if (q->count == 0) return -1;
  uint8_t byte = q->bytes[q->head];
  q->head = (q->head + 1) % QUEUE_SIZE;
  q->count--;
  return byte;
}

/* Bytes on their way into a USART: simavr's XON/XOFF say when its receive FIFO has room. */
typedef struct {
  queue_t queue;
  bool xoff;
  avr_irq_t *input;
  int ucsrb;  /* the USART's control register B, whose RXEN bit says the receiver is on */
} uart_input_t;

typedef struct {
  const char *mcu;
  bool soft_host;               /* Uno: SoftwareSerial host link */
  char host_uart;               /* Mega: '1' */
  char rx_port, tx_port;        /* Uno: D7 = PD7 (RX), D8 = PB0 (TX) */
  int rx_bit, tx_bit;
  unsigned long host_baud;      /* the USB-serial adapter's rate */
  char dir_port;                /* D2: PE4 on the Mega, PD2 on the Uno */
  int dir_bit;
} board_t;

static const board_t BOARDS[] = {
    {"atmega2560", false, '1', 0, 0, 0, 0, 115200, 'E', 4},
    {"atmega328p", true, 0, 'D', 'B', 7, 0, 57600, 'D', 2},
};

static avr_t *avr;
static const board_t *board;
static volatile sig_atomic_t stopping;
static double grace_s = 0.5;
static double paused_s;          /* wall-clock time spent paused, not given to the simulation */
static double start_s;

/* host link */
static const char *host_path;
static int host_master = -1, host_slave = -1;
static uart_input_t host_in = {.ucsrb = UCSR1B};
static queue_t host_out;

/* Dynamixel line */
static const char *dxl_path;
static int dxl_fd = -1;
static double dxl_next_open_s;
static bool dir_high;
static uint8_t tx_packet[MAX_PACKET];
static size_t tx_length;
static bool tx_overflow;
static avr_cycle_count_t tx_done_cycle;
static uart_input_t dxl_in = {.ucsrb = UCSR0B};
static bool awaiting;            /* paused until a status packet has arrived or grace_s passed */
static int await_protocol;
static double await_since_s;
static uint8_t status_bytes[MAX_PACKET];
static size_t status_length;

/* Uno SoftwareSerial */
static avr_irq_t *soft_rx_irq;
static int soft_tx_level = 1;
static bool soft_tx_receiving;
static avr_cycle_count_t soft_tx_start;
static avr_cycle_count_t soft_edges[32];
static int soft_edge_levels[32];
static int soft_edge_count;
static bool soft_rx_sending;
static int soft_rx_byte;
static int soft_rx_bit;
static avr_cycle_count_t soft_rx_start;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void on_signal(int signal_number) {
  (void)signal_number;
  stopping = 1;
}

/* ---- host pty ---------------------------------------------------------------------------- */

static void host_plug(void) {
  struct termios raw;
  if (openpty(&host_master, &host_slave, NULL, NULL, NULL) != 0) {
    perror("bridge_sim: openpty");
    exit(1);
  }
  tcgetattr(host_slave, &raw);
  cfmakeraw(&raw);
  tcsetattr(host_slave, TCSANOW, &raw);
  fcntl(host_master, F_SETFL, O_NONBLOCK);
  unlink(host_path);
  if (symlink(ttyname(host_slave), host_path) != 0) {
    perror("bridge_sim: symlink");
    exit(1);
  }
}

static void host_unplug(void) {
  unlink(host_path);
  if (host_master >= 0) close(host_master);
  if (host_slave >= 0) close(host_slave);
  host_master = host_slave = -1;
  host_in.queue.count = host_out.count = 0;
}

static void host_flush_out(void) {
  while (host_out.count > 0 && host_master >= 0) {
    uint8_t chunk[256];
    size_t n = 0;
    while (n < sizeof(chunk) && host_out.count > 0) chunk[n++] = (uint8_t)queue_get(&host_out);
    if (write(host_master, chunk, n) < 0 && errno != EAGAIN) break;
  }
  host_out.count = 0;
}

/* ---- USARTs ------------------------------------------------------------------------------ */

static unsigned usart_cycles_per_bit(int ucsra, int ubrrl, int ubrrh) {
  unsigned ubrr = avr->data[ubrrl] | ((avr->data[ubrrh] & 0x0F) << 8);
  return (ubrr + 1) * ((avr->data[ucsra] & (1 << U2X_BIT)) ? 8 : 16);
}

/* Once per USART, at its first byte: is it at the baud rate the other end uses? */
static void check_baud(bool *checked, const char *line, unsigned cycles_per_bit, unsigned long expected) {
  if (*checked) return;
  *checked = true;
  double baud = (double)F_CPU / cycles_per_bit;
  if (baud < expected * (1 - BAUD_TOLERANCE) || baud > expected * (1 + BAUD_TOLERANCE))
    fprintf(stderr, "bridge_sim: %s at %.0f baud, the other end at %lu\n", line, baud, expected);
}

/* ---- host link on a USART (Mega) --------------------------------------------------------- */

static void host_uart_output(avr_irq_t *irq, uint32_t value, void *param) {
  static bool checked;
  (void)irq;
  (void)param;
  check_baud(&checked, "host link (USART1)", usart_cycles_per_bit(UCSR1A, UBRR1L, UBRR1H), board->host_baud);
  queue_put(&host_out, (uint8_t)value);
}

static void uart_xon(avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq;
  if (value) ((uart_input_t *)param)->xoff = false;
}

static void uart_xoff(avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq;
  ((uart_input_t *)param)->xoff = value != 0;
}

static void uart_connect_input(char uart, uart_input_t *in) {
  in->input = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ(uart), UART_IRQ_INPUT);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ(uart), UART_IRQ_OUT_XON), uart_xon, in);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ(uart), UART_IRQ_OUT_XOFF), uart_xoff, in);
}

static void uart_feed(uart_input_t *in) {
  while (in->queue.count > 0 && !in->xoff && (avr->data[in->ucsrb] & (1 << RXEN_BIT)))
    avr_raise_irq(in->input, (uint8_t)queue_get(&in->queue));
}

/* ---- host link on SoftwareSerial (Uno) --------------------------------------------------- */

static avr_cycle_count_t soft_bit_cycle(avr_cycle_count_t start, int bit) {
  return start + (avr_cycle_count_t)bit * F_CPU / board->host_baud;
}

static int soft_level_at(avr_cycle_count_t cycle) {
  int level = 0;  /* the start bit */
  for (int i = 0; i < soft_edge_count && soft_edges[i] <= cycle; ++i) level = soft_edge_levels[i];
  return level;
}

/* 9.5 bit times after a start edge: sample the 8 data bits and the stop bit at their centres. */
static avr_cycle_count_t soft_tx_finish(avr_t *a, avr_cycle_count_t when, void *param) {
  (void)a;
  (void)when;
  (void)param;
  int byte = 0;
  for (int bit = 0; bit < 8; ++bit) byte |= soft_level_at(soft_bit_cycle(soft_tx_start, bit + 1) + F_CPU / board->host_baud / 2) << bit;
  if (soft_level_at(soft_bit_cycle(soft_tx_start, 9) + F_CPU / board->host_baud / 2))
    queue_put(&host_out, (uint8_t)byte);
  else
    fprintf(stderr, "bridge_sim: framing error on the SoftwareSerial TX pin\n");
  soft_tx_receiving = false;
  return 0;
}

static void soft_tx_pin(avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq;
  (void)param;
  int level = value ? 1 : 0;
  if (level == soft_tx_level) return;
  soft_tx_level = level;
  if (!soft_tx_receiving && level == 0) {
    soft_tx_receiving = true;
    soft_tx_start = avr->cycle;
    soft_edge_count = 0;
    avr_cycle_timer_register(avr, soft_bit_cycle(0, 9) + F_CPU / board->host_baud / 2, soft_tx_finish, NULL);
  } else if (soft_tx_receiving && soft_edge_count < 32) {
    soft_edges[soft_edge_count] = avr->cycle;
    soft_edge_levels[soft_edge_count++] = level;
  }
}

static void soft_rx_drive(int level) {
  avr_ioport_external_t external = {.name = board->rx_port, .mask = 1 << board->rx_bit, .value = level << board->rx_bit};
  avr_ioctl(avr, AVR_IOCTL_IOPORT_SET_EXTERNAL(board->rx_port), &external);  /* PORT writes keep our level */
  avr_raise_irq(soft_rx_irq, level);
}

/* Drives one bit of the byte being sent (start, 8 data bits LSB first, stop), then the next byte. */
static avr_cycle_count_t soft_rx_next(avr_t *a, avr_cycle_count_t when, void *param) {
  (void)a;
  (void)param;
  if (soft_rx_bit == 10) {
    soft_rx_byte = queue_get(&host_in.queue);
    if (soft_rx_byte < 0) {
      soft_rx_sending = false;
      return 0;
    }
    soft_rx_bit = 0;
    soft_rx_start = when;
  }
  int level = soft_rx_bit == 0 ? 0 : soft_rx_bit == 9 ? 1 : (soft_rx_byte >> (soft_rx_bit - 1)) & 1;
  soft_rx_drive(level);
  soft_rx_bit++;
  return soft_bit_cycle(soft_rx_start, soft_rx_bit);
}

/* ---- Dynamixel line ---------------------------------------------------------------------- */

static avr_cycle_count_t dxl_cycles_per_byte(void) {
  return 10 * usart_cycles_per_bit(UCSR0A, UBRR0L, UBRR0H);  /* 8N1 */
}

static void dxl_close(void) {
  if (dxl_fd >= 0) close(dxl_fd);
  dxl_fd = -1;
  dxl_next_open_s = now_s() + REOPEN_INTERVAL_S;
}

static void dxl_try_open(void) {
  if (!dxl_path || dxl_fd >= 0 || now_s() < dxl_next_open_s) return;
  dxl_fd = open(dxl_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (dxl_fd < 0) {
    dxl_next_open_s = now_s() + REOPEN_INTERVAL_S;
    return;
  }
  struct termios raw;
  if (tcgetattr(dxl_fd, &raw) == 0) {
    cfmakeraw(&raw);
    tcsetattr(dxl_fd, TCSANOW, &raw);
  }
}

static void dxl_uart_output(avr_irq_t *irq, uint32_t value, void *param) {
  static bool checked;
  (void)irq;
  (void)param;
  check_baud(&checked, "Dynamixel line (USART0)", usart_cycles_per_bit(UCSR0A, UBRR0L, UBRR0H), DXL_BAUD);
  if (!dir_high) {
    fprintf(stderr, "bridge_sim: byte %02X sent on the Dynamixel line with the direction pin LOW: lost\n", value & 0xFF);
    return;
  }
  avr_cycle_count_t begin = tx_done_cycle > avr->cycle ? tx_done_cycle : avr->cycle;
  tx_done_cycle = begin + dxl_cycles_per_byte();
  if (tx_length < MAX_PACKET)
    tx_packet[tx_length++] = (uint8_t)value;
  else
    tx_overflow = true;
}

/* End of the first status packet in status_bytes (noise before it skipped); 0 while unknown. */
static size_t status_packet_end(void) {
  for (size_t start = 0; start + 1 < status_length; ++start) {
    if (status_bytes[start] != 0xFF || status_bytes[start + 1] != 0xFF) continue;
    if (await_protocol == 2) {
      if (start + 7 > status_length) return 0;
      if (status_bytes[start + 2] != 0xFD || status_bytes[start + 3] != 0x00) continue;
      return start + 7 + (status_bytes[start + 5] | (status_bytes[start + 6] << 8));
    }
    if (start + 4 > status_length) return 0;
    if (status_bytes[start + 2] == 0xFF) continue;
    return start + 4 + status_bytes[start + 3];
  }
  return 0;
}

static void await_end(void) {
  awaiting = false;
  paused_s += now_s() - await_since_s;
}

/* The direction pin: on its turn to LOW the instruction packet goes out on the bus. */
static void dxl_direction(avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq;
  (void)param;
  bool high = value != 0;
  if (high == dir_high) return;
  dir_high = high;
  if (high) {
    tx_length = 0;
    tx_overflow = false;
    return;
  }
  if (tx_length == 0) return;
  if (avr->cycle < tx_done_cycle) {
    fprintf(stderr, "bridge_sim: direction pin turned LOW %llu cycles before the last byte was out: packet cut\n",
            (unsigned long long)(tx_done_cycle - avr->cycle));
    tx_length--;
  }
  if (tx_overflow) fprintf(stderr, "bridge_sim: instruction packet longer than %d bytes\n", MAX_PACKET);
  if (dxl_fd < 0) return;
  if (write(dxl_fd, tx_packet, tx_length) < 0) {
    dxl_close();
    return;
  }
  awaiting = true;
  await_protocol = tx_length >= 4 && tx_packet[2] == 0xFD && tx_packet[3] == 0x00 ? 2 : 1;
  await_since_s = now_s();
  status_length = 0;
}

static void dxl_receive(void) {
  uint8_t chunk[256];
  ssize_t n = read(dxl_fd, chunk, sizeof(chunk));
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {  /* the device is gone (the emulator's adapter was pulled) */
    dxl_close();
    if (awaiting) await_end();
    return;
  }
  if (dir_high) return;  /* the shield's buffer drives the bus: nothing reaches RX */
  for (ssize_t i = 0; i < n; ++i) {
    queue_put(&dxl_in.queue, chunk[i]);
    if (awaiting && status_length < MAX_PACKET) status_bytes[status_length++] = chunk[i];
  }
  size_t end = status_packet_end();
  if (awaiting && ((end && status_length >= end) || status_length >= MAX_PACKET)) await_end();
}

/* ---- main loop --------------------------------------------------------------------------- */

static void handle_command(char *command) {
  command[strcspn(command, "\r\n")] = '\0';
  if (strcmp(command, "unplug") == 0) {
    host_unplug();
  } else if (strcmp(command, "replug") == 0) {
    if (host_master < 0) host_plug();
  } else if (strncmp(command, "pot ", 4) == 0) {
    avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0), (uint32_t)atoi(command + 4));
  } else if (command[0]) {
    fprintf(stderr, "bridge_sim: unknown command %s\n", command);
  }
}

static void read_commands(void) {
  static char buffer[256];
  static size_t length;
  ssize_t n = read(STDIN_FILENO, buffer + length, sizeof(buffer) - 1 - length);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    stopping = 1;
    return;
  }
  length += (size_t)n;
  buffer[length] = '\0';
  char *newline;
  while ((newline = strchr(buffer, '\n')) != NULL) {
    *newline = '\0';
    handle_command(buffer);
    length -= (size_t)(newline + 1 - buffer);
    memmove(buffer, newline + 1, length + 1);
  }
  if (length == sizeof(buffer) - 1) length = 0;
}

static void wait_for_events(double timeout_s) {
  struct pollfd fds[3] = {{STDIN_FILENO, POLLIN, 0}, {host_master, POLLIN, 0}, {dxl_fd, POLLIN, 0}};
  struct timespec timeout = {(time_t)timeout_s, (long)((timeout_s - (time_t)timeout_s) * 1e9)};
  if (ppoll(fds, 3, &timeout, NULL) <= 0) return;
  if (fds[0].revents) read_commands();
  if (fds[1].revents & POLLIN) {
    uint8_t chunk[256];
    ssize_t n = read(host_master, chunk, sizeof(chunk));
    for (ssize_t i = 0; i < n; ++i) queue_put(&host_in.queue, chunk[i]);
  }
  if (dxl_fd >= 0 && fds[2].revents) dxl_receive();
}

/* simavr's messages go to stderr (stdout carries only "ready"); its debug chatter is dropped. */
static void log_to_stderr(avr_t *a, const int level, const char *format, va_list args) {
  (void)a;
  if (level <= LOG_WARNING) vfprintf(stderr, format, args);
}

static void no_sleep(avr_t *a, avr_cycle_count_t how_long) {
  (void)a;
  (void)how_long;
}

static void usage(void) {
  fprintf(stderr, "usage: bridge_sim --mcu atmega2560|atmega328p --elf FILE --host PATH [--dxl PATH] [--pot-mv MV] [--grace-ms MS]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *elf = NULL, *mcu = NULL;
  int pot_mv = 2500;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--mcu")) mcu = argv[i + 1];
    else if (!strcmp(argv[i], "--elf")) elf = argv[i + 1];
    else if (!strcmp(argv[i], "--host")) host_path = argv[i + 1];
    else if (!strcmp(argv[i], "--dxl")) dxl_path = argv[i + 1];
    else if (!strcmp(argv[i], "--pot-mv")) pot_mv = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--grace-ms")) grace_s = atoi(argv[i + 1]) / 1000.0;
    else usage();
  }
  if (argc % 2 == 0 || !elf || !mcu || !host_path) usage();
  for (size_t i = 0; i < sizeof(BOARDS) / sizeof(BOARDS[0]); ++i)
    if (!strcmp(BOARDS[i].mcu, mcu)) board = &BOARDS[i];
  if (!board) usage();

  avr_global_logger_set(log_to_stderr);
  elf_firmware_t firmware;
  memset(&firmware, 0, sizeof(firmware));
  if (elf_read_firmware(elf, &firmware) != 0) {
    fprintf(stderr, "bridge_sim: cannot read %s\n", elf);
    return 1;
  }
  avr = avr_make_mcu_by_name(mcu);
  if (!avr) return 1;
  avr_init(avr);
  avr_load_firmware(avr, &firmware);
  avr->frequency = F_CPU;
  avr->vcc = avr->avcc = avr->aref = 5000;
  avr->sleep = no_sleep;  /* pacing is done here, against the wall clock */
  /* The firmware uses no external interrupt; simavr would otherwise poll every INTn pin held LOW
   * (the direction pin D2 is INT0 on the Uno, INT4 on the Mega) on every cycle for a level trigger. */
  for (uint8_t extint = 0; extint < EXTINT_COUNT; ++extint) avr_extint_set_strict_lvl_trig(avr, extint, 0);

  uint32_t quiet = 0;  /* no console echo of UART output, no usleep in UART polling */
  avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &quiet);
  uart_connect_input('0', &dxl_in);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), dxl_uart_output, NULL);
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(board->dir_port), board->dir_bit), dxl_direction, NULL);
  if (board->soft_host) {
    soft_rx_irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(board->rx_port), board->rx_bit);
    soft_rx_drive(1);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ(board->tx_port), board->tx_bit), soft_tx_pin, NULL);
  } else {
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS(board->host_uart), &quiet);
    uart_connect_input(board->host_uart, &host_in);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ(board->host_uart), UART_IRQ_OUTPUT), host_uart_output, NULL);
  }
  avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0), (uint32_t)pot_mv);

  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  fcntl(STDIN_FILENO, F_SETFL, O_NONBLOCK);
  host_plug();
  dxl_try_open();
  printf("ready\n");
  fflush(stdout);

  start_s = now_s();
  while (!stopping) {
    if (!awaiting) {
      avr_cycle_count_t target = avr->cycle + SLICE_CYCLES;
      while (avr->cycle < target && !awaiting) {
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
          fprintf(stderr, "bridge_sim: the firmware %s at cycle %llu\n", state == cpu_Done ? "stopped" : "crashed",
                  (unsigned long long)avr->cycle);
          host_unplug();
          return 3;
        }
      }
    }
    host_flush_out();
    double now = now_s();
    double timeout = 0.0;
    if (awaiting) {
      timeout = await_since_s + grace_s - now;
      if (timeout <= 0.0) {
        await_end();
        timeout = 0.0;
      }
    } else {
      double ahead = (double)avr->cycle / F_CPU - (now - start_s - paused_s);
      if (ahead > AHEAD_SLACK_S) timeout = ahead;
    }
    wait_for_events(timeout);
    dxl_try_open();
    if (dxl_fd < 0 && awaiting) await_end();
    if (!dir_high) uart_feed(&dxl_in);
    if (board->soft_host) {
      if (!soft_rx_sending && host_in.queue.count > 0) {
        soft_rx_sending = true;
        soft_rx_bit = 10;
        avr_cycle_timer_register(avr, 1, soft_rx_next, NULL);
      }
    } else {
      uart_feed(&host_in);
    }
  }
  host_unplug();
  return 0;
}
