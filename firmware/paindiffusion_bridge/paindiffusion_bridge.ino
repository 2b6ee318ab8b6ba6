// paindiffusion elbow bridge: line protocol v1 between the host (paindiffusion_ros/hardware/arduino.py)
// and either an MX-64 on a ROBOTIS DYNAMIXEL Shield (Protocol 2.0 or 1.0, found at start-up) or,
// when no motor answers, a potentiometer on A0. Protocol and wiring: firmware/README.md.
//
// Self-contained: the Dynamixel master is dynamixel.h/.cpp in this folder (no library to install).
// The shield takes the UART on pins 0/1 for the Dynamixel line, with its direction pin on D2, so the
// host talks through a USB-serial adapter: an Uno through SoftwareSerial on pins 7 (RX) / 8 (TX) at
// 57600, a Mega through its second UART Serial1 on pins 19 (RX1) / 18 (TX1) at 115200 (a Mega's
// SoftwareSerial can only receive on pins 10-15, 50-53 and A8-A15).

#include <Arduino.h>
#include <avr/sleep.h>

#include "dynamixel.h"

#if defined(ARDUINO_AVR_UNO)
#include <SoftwareSerial.h>
SoftwareSerial host_serial(7, 8);
#define HOST host_serial
const unsigned long HOST_BAUD = 57600;
#define DXL_SERIAL Serial
#elif defined(ARDUINO_AVR_MEGA2560)
#define HOST Serial1
const unsigned long HOST_BAUD = 115200;
#define DXL_SERIAL Serial
#else
#error "paindiffusion_bridge is built and tested for the Arduino Uno and Mega 2560 (firmware/README.md)"
#endif

const uint8_t LINE_PROTOCOL_VERSION = 1;
const uint8_t DXL_DIR_PIN = 2;  // DYNAMIXEL Shield: HIGH = transmit, LOW = receive
const unsigned long DXL_BAUD = 1000000;
const uint8_t MOTOR_ID = 1;
const uint8_t DETECT_ROUNDS = 3;              // start-up pings: P2.0 then P1.0, this many times
const unsigned long REBOOT_WAIT_MS = 1000;    // a rebooting MX-64(2.0) answers a ping again within this
const int POT_PIN = A0;
const long POT_RANGE_MRAD = 5236;             // 300 degree single-turn potentiometer
const uint8_t GENTLE_SPEED_P1 = 84;           // 1 rad/s in Moving Speed units (0.114 rpm)
const uint8_t GENTLE_SPEED_P2 = 42;           // 1 rad/s in Profile Velocity units (0.229 rpm)

// Bridge error bits (ERROR_BITS in arduino.py).
const uint8_t ERR_VOLTAGE = 1 << 0, ERR_OVERHEAT = 1 << 1, ERR_OVERLOAD = 1 << 2;
const uint8_t ERR_ENCODER = 1 << 3, ERR_SHOCK = 1 << 4, ERR_MOTOR_LOST = 1 << 5;
const uint8_t SHUTDOWN_ERRORS = ERR_VOLTAGE | ERR_OVERHEAT | ERR_OVERLOAD | ERR_ENCODER | ERR_SHOCK;

// MX-64 control tables (e-Manual "MX-64T/R/AR" for P1.0, "MX-64T/R/AR (2.0)" for P2.0).
namespace p1 {
const uint8_t ANGLE_LIMITS = 6, MAX_TORQUE = 14, TORQUE_ENABLE = 24, GOAL_POSITION = 30, MOVING_SPEED = 32;
const uint8_t TORQUE_LIMIT = 34, STATE = 36, STATE_LENGTH = 8;  // position, speed, load, voltage, temperature
const uint8_t INSTRUCTION_ERRORS = 0x02 | 0x08 | 0x10 | 0x40;   // angle limit, range, checksum, instruction
}  // namespace p1
namespace p2 {
const uint16_t OPERATING_MODE = 11, CURRENT_LIMIT = 38, POSITION_LIMITS = 48, TORQUE_ENABLE = 64;
const uint16_t HARDWARE_ERROR_STATUS = 70, GOAL_CURRENT = 102, PROFILE_VELOCITY = 112, GOAL_POSITION = 116;
const uint16_t STATE = 126;  // current, velocity, position, trajectories, input voltage, temperature
const uint8_t STATE_LENGTH = 21;
const uint8_t POSITION_CONTROL = 3, CURRENT_BASED_POSITION_CONTROL = 5, ALERT = 0x80;
}  // namespace p2

enum Source { SOURCE_POT, SOURCE_DXL1, SOURCE_DXL2 };
enum Mode { MODE_COMPLIANT, MODE_HOLD, MODE_RESIST };
const char *const MODE_NAMES[] = {"compliant", "hold", "resist"};

struct Sample {
  long position_mrad, velocity_mrad_s, effort_mnm, temperature_c, voltage_dv;
};

DynamixelBus dxl(DXL_SERIAL, DXL_DIR_PIN);
Source source = SOURCE_POT;
Mode mode = MODE_COMPLIANT;
long resist_permille = 300;
bool torque = false;  // the host asked for torque on (and the motor took it)
uint16_t sequence = 0;
uint8_t errors = 0;
Sample last = {0, 0, 0, 0, 0};
unsigned long last_pot_micros = 0;

char line[64];
uint8_t line_length = 0;
bool discarding = false;  // inside an overlong line: drop it up to its newline

long divide_rounded(long numerator, long denominator) {
  return numerator >= 0 ? (numerator + denominator / 2) / denominator : -((-numerator + denominator / 2) / denominator);
}

long clamp_long(long value, long low, long high) { return value < low ? low : value > high ? high : value; }

// 10-bit sign-magnitude value of a P1.0 speed or load (bit 10 = direction).
long sign_magnitude(uint16_t raw) { return (raw & 0x400) ? -(long)(raw & 0x3FF) : (long)(raw & 0x3FF); }

uint8_t xor_checksum(const char *body) {
  uint8_t sum = 0;
  for (const char *c = body; *c; ++c) sum ^= (uint8_t)*c;
  return sum;
}

void send_line(const char *body) {
  char tail[5];
  snprintf(tail, sizeof(tail), "*%02X", xor_checksum(body));
  HOST.print(body);
  HOST.println(tail);  // println ends with "\r\n"; the host strips the "\r"
}

// Splits "BODY*XX" in place; returns false when the checksum is missing or wrong.
bool verify_line(char *text) {
  char *star = strrchr(text, '*');
  if (star == NULL || strlen(star) != 3 || !isxdigit(star[1]) || !isxdigit(star[2])) return false;
  *star = '\0';
  return (uint8_t)strtol(star + 1, NULL, 16) == xor_checksum(text);
}

// ---- the motor -------------------------------------------------------------------------------

bool write_item(uint16_t address, uint32_t value, uint8_t size) {
  uint8_t bytes[4];
  put_le(bytes, value, size);
  if (!dxl.write(MOTOR_ID, address, bytes, size)) {
    errors |= ERR_MOTOR_LOST;
    return false;
  }
  uint8_t refused = source == SOURCE_DXL2 ? dxl.status_error() & ~p2::ALERT : dxl.status_error() & p1::INSTRUCTION_ERRORS;
  return refused == 0;
}

bool read_item(uint16_t address, uint8_t size, uint32_t *value) {
  uint8_t bytes[4];
  if (!dxl.read(MOTOR_ID, address, size, bytes)) {
    errors |= ERR_MOTOR_LOST;
    return false;
  }
  *value = size == 1 ? bytes[0] : size == 2 ? le16(bytes) : le32(bytes);
  return true;
}

// Bridge error bits from the last status packet (P1.0 error byte; P2.0 alert → Hardware Error Status).
bool read_motor_errors() {
  uint8_t status = dxl.status_error();
  uint8_t found = 0;
  if (source == SOURCE_DXL2) {
    uint32_t bits = 0;
    if ((status & p2::ALERT) && !read_item(p2::HARDWARE_ERROR_STATUS, 1, &bits)) return false;
    if (bits & 0x01) found |= ERR_VOLTAGE;
    if (bits & 0x04) found |= ERR_OVERHEAT;
    if (bits & 0x08) found |= ERR_ENCODER;
    if (bits & 0x10) found |= ERR_SHOCK;
    if (bits & 0x20) found |= ERR_OVERLOAD;
  } else {
    if (status & 0x01) found |= ERR_VOLTAGE;
    if (status & 0x04) found |= ERR_OVERHEAT;
    if (status & 0x20) found |= ERR_OVERLOAD;
  }
  errors = found;
  return true;
}

bool torque_off() {
  return write_item(source == SOURCE_DXL2 ? p2::TORQUE_ENABLE : p1::TORQUE_ENABLE, 0, 1);
}

// The present angle clamped into the motor's position limits: a goal outside them is refused (P1.0)
// or clamped by the motor, and the arm may have been moved past a limit while compliant.
bool anchor_ticks(long *ticks) {
  uint8_t limits[8];
  uint32_t present;
  if (source == SOURCE_DXL2) {
    if (!dxl.read(MOTOR_ID, p2::POSITION_LIMITS, 8, limits) || !read_item(p2::STATE + 6, 4, &present)) return false;
    *ticks = clamp_long((int32_t)present, (int32_t)le32(limits + 4), (int32_t)le32(limits));
  } else {
    if (!dxl.read(MOTOR_ID, p1::ANGLE_LIMITS, 4, limits) || !read_item(p1::STATE, 2, &present)) return false;
    *ticks = clamp_long(present, le16(limits), le16(limits + 2));
  }
  return true;
}

// Torque off; then, when the host wants torque and no shutdown error is set, the mode's effort cap,
// a gentle speed limit, the present angle as goal, and torque on. False when the motor refused or
// did not answer (torque is then left off).
bool apply_torque() {
  if (source == SOURCE_POT) return true;
  bool on = torque && mode != MODE_COMPLIANT && !(errors & SHUTDOWN_ERRORS);
  if (!torque_off()) return false;
  if (!on) return true;
  bool hold = mode == MODE_HOLD;
  uint32_t full;
  long goal;
  if (source == SOURCE_DXL2) {
    uint32_t operating;
    uint8_t wanted = hold ? p2::POSITION_CONTROL : p2::CURRENT_BASED_POSITION_CONTROL;
    if (!read_item(p2::OPERATING_MODE, 1, &operating)) return false;
    if (operating != wanted && !write_item(p2::OPERATING_MODE, wanted, 1)) return false;  // EEPROM: only on change
    if (!read_item(p2::CURRENT_LIMIT, 2, &full)) return false;
    long limit = hold ? (long)full : max(1L, divide_rounded((long)full * resist_permille, 1000));
    return write_item(p2::GOAL_CURRENT, limit, 2) && write_item(p2::PROFILE_VELOCITY, GENTLE_SPEED_P2, 4) &&
           anchor_ticks(&goal) && write_item(p2::GOAL_POSITION, (uint32_t)goal, 4) && write_item(p2::TORQUE_ENABLE, 1, 1);
  }
  if (!read_item(p1::MAX_TORQUE, 2, &full)) return false;
  long limit = hold ? (long)full : max(1L, divide_rounded((long)full * resist_permille, 1000));
  return write_item(p1::TORQUE_LIMIT, limit, 2) && write_item(p1::MOVING_SPEED, GENTLE_SPEED_P1, 2) &&
         anchor_ticks(&goal) && write_item(p1::GOAL_POSITION, goal, 2) && write_item(p1::TORQUE_ENABLE, 1, 1);
}

// Before torque on: errors as the motor has them now. A P2.0 motor keeps a shutdown error until
// REBOOT (e-Manual, Hardware Error Status), so it is rebooted; if the cause is still there the motor
// raises the error again. A P1.0 motor reports its present errors in every status packet.
bool refresh_errors() {
  if (source == SOURCE_DXL2 && (errors & SHUTDOWN_ERRORS)) {
    if (!dxl.reboot(MOTOR_ID)) {
      errors |= ERR_MOTOR_LOST;
      return false;
    }
    unsigned long start = millis();
    dxl.set_attempts(1);
    bool back = false;
    while (!back && millis() - start < REBOOT_WAIT_MS) back = dxl.ping(MOTOR_ID);
    dxl.set_attempts(2);
    if (!back) {
      errors |= ERR_MOTOR_LOST;
      return false;
    }
    return read_motor_errors();
  }
  if (!dxl.ping(MOTOR_ID)) {
    errors |= ERR_MOTOR_LOST;
    return false;
  }
  return read_motor_errors();
}

bool read_motor(Sample *sample) {
  uint8_t block[p2::STATE_LENGTH];
  if (source == SOURCE_DXL2) {
    if (!dxl.read(MOTOR_ID, p2::STATE, p2::STATE_LENGTH, block)) return false;
    if (!read_motor_errors()) return false;
    int32_t ticks = (int32_t)le32(block + 6);
    sample->position_mrad = divide_rounded((ticks - 2048L) * 100531L, 65536L);    // 2 pi / 4096 rad per tick
    sample->velocity_mrad_s = divide_rounded((int32_t)le32(block + 2) * 23981L, 1000L);  // 0.229 rpm per unit
    sample->effort_mnm = divide_rounded((int16_t)le16(block) * 49171L, 10000L);   // 3.36 mA x 6.0 N·m / 4.1 A
    sample->voltage_dv = le16(block + 18);
    sample->temperature_c = block[20];
    return true;
  }
  if (!dxl.read(MOTOR_ID, p1::STATE, p1::STATE_LENGTH, block)) return false;
  read_motor_errors();
  sample->position_mrad = divide_rounded(((long)le16(block) - 2048L) * 100531L, 65536L);
  sample->velocity_mrad_s = divide_rounded(sign_magnitude(le16(block + 2)) * 11938L, 1000L);  // 0.114 rpm per unit
  sample->effort_mnm = sign_magnitude(le16(block + 4)) * 6L;  // 0.1 % of the 6.0 N·m stall torque
  sample->voltage_dv = block[6];
  sample->temperature_c = block[7];
  return true;
}

void read_potentiometer(Sample *sample) {
  unsigned long now = micros();
  long angle = divide_rounded((2L * analogRead(POT_PIN) - 1023L) * POT_RANGE_MRAD, 2046L);
  unsigned long dt = now - last_pot_micros;
  sample->velocity_mrad_s = dt > 0 ? (long)((angle - last.position_mrad) * 1e6f / dt) : 0;
  sample->position_mrad = angle;
  sample->effort_mnm = sample->temperature_c = sample->voltage_dv = 0;
  last_pot_micros = now;
}

// ---- the host commands -----------------------------------------------------------------------

void reply_angle() {
  if (source == SOURCE_POT) {
    read_potentiometer(&last);
  } else {
    bool was_lost = errors & ERR_MOTOR_LOST;
    dxl.set_attempts(was_lost ? 1 : 2);  // a lost motor costs the host one timeout per READ, not two
    bool answered = read_motor(&last);
    dxl.set_attempts(2);
    if (!answered) {
      errors |= ERR_MOTOR_LOST;  // the last sample is sent again with the motor-lost bit
    } else if ((errors & SHUTDOWN_ERRORS) && torque) {
      torque = false;  // the motor dropped torque itself
      torque_off();
    } else if (was_lost && torque && !apply_torque()) {
      torque = false;  // back after a power loss: its torque is off until the mode is applied again
    }
  }
  sequence++;
  char body[64];
  snprintf(body, sizeof(body), "A %u %ld %ld %ld %ld %ld %02X %d", sequence, last.position_mrad, last.velocity_mrad_s,
           last.effort_mnm, last.temperature_c, last.voltage_dv, errors, torque ? 1 : 0);
  send_line(body);
}

void reply_torque(bool on) {
  if (on && source == SOURCE_POT) {
    send_line("ERR nomotor");
    return;
  }
  if (on && !refresh_errors()) {
    send_line("ERR motor");
    return;
  }
  if (on && (errors & SHUTDOWN_ERRORS)) {
    send_line("ERR fault");
    return;
  }
  torque = on;
  if (!apply_torque()) {
    torque = false;
    send_line("ERR motor");
    return;
  }
  send_line(on ? "OK TORQUE 1" : "OK TORQUE 0");
}

void handle(char *text) {
  if (!verify_line(text)) {
    send_line("ERR checksum");
    return;
  }
  char *command = strtok(text, " ");
  char *arg1 = strtok(NULL, " ");
  char *arg2 = strtok(NULL, " ");
  char *extra = strtok(NULL, " ");
  char body[48];
  if (command != NULL && strcmp(command, "HELLO") == 0 && extra == NULL) {
    snprintf(body, sizeof(body), "PDB %u %s", LINE_PROTOCOL_VERSION,
             source == SOURCE_DXL2 ? "dxl2" : source == SOURCE_DXL1 ? "dxl1" : "pot");
    send_line(body);
    return;
  }
  if (command != NULL && strcmp(command, "READ") == 0 && arg1 == NULL) {
    reply_angle();
    return;
  }
  if (command != NULL && strcmp(command, "TORQUE") == 0 && arg1 != NULL && arg2 == NULL &&
      (strcmp(arg1, "0") == 0 || strcmp(arg1, "1") == 0)) {
    reply_torque(arg1[0] == '1');
    return;
  }
  if (command != NULL && strcmp(command, "MODE") == 0 && arg2 != NULL && extra == NULL) {
    for (uint8_t m = MODE_COMPLIANT; m <= MODE_RESIST; ++m) {
      if (strcmp(arg1, MODE_NAMES[m]) != 0) continue;
      mode = (Mode)m;
      resist_permille = clamp_long(atol(arg2), 0, 1000);
      if (torque && !apply_torque()) torque = false;
      snprintf(body, sizeof(body), "OK MODE %s %s", arg1, arg2);
      send_line(body);
      return;
    }
  }
  send_line("ERR command");
}

// ---- start-up and the main loop --------------------------------------------------------------

Source detect_motor() {
  dxl.set_attempts(1);
  Source found = SOURCE_POT;
  for (uint8_t round = 0; round < DETECT_ROUNDS && found == SOURCE_POT; ++round) {
    dxl.set_protocol(2);
    if (dxl.ping(MOTOR_ID)) {
      found = SOURCE_DXL2;
      break;
    }
    dxl.set_protocol(1);
    if (dxl.ping(MOTOR_ID)) found = SOURCE_DXL1;
  }
  dxl.set_attempts(2);
  return found;
}

void setup() {
  HOST.begin(HOST_BAUD);
  dxl.begin(DXL_BAUD);
  source = detect_motor();
  if (source != SOURCE_POT) {
    torque_off();  // compliant until the host asks otherwise
    read_motor_errors();
  }
  last_pot_micros = micros();
}

void loop() {
  while (HOST.available()) {
    char c = (char)HOST.read();
    if (c == '\r') continue;
    if (c == '\n') {
      line[line_length] = '\0';
      if (line_length > 0 && !discarding) handle(line);
      line_length = 0;
      discarding = false;
    } else if (line_length < sizeof(line) - 1) {
      line[line_length++] = c;
    } else {
      discarding = true;  // overlong line: dropped up to its newline; the host times out and retries
    }
  }
  // Nothing to do until the next interrupt (a host byte, or the 1 ms timer): idle sleep. Interrupts
  // are enabled by the instruction before SLEEP, so a byte arriving after the check still wakes it.
  set_sleep_mode(SLEEP_MODE_IDLE);
  cli();
  if (!HOST.available()) {
    sleep_enable();
    sei();
    sleep_cpu();
    sleep_disable();
  }
  sei();
}
