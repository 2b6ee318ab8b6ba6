// paindiffusion elbow bridge: line protocol v1 between the host (paindiffusion_ros/hardware/arduino.py)
// and either an MX-64 on a ROBOTIS DYNAMIXEL Shield (Protocol 1.0 or 2.0, found at start-up) or,
// when no motor answers, a potentiometer on A0. Protocol: firmware/README.md.
//
// Libraries: DynamixelShield and Dynamixel2Arduino (Arduino Library Manager).
// Boards: on an Uno or Mega 2560 the shield takes the hardware UART Serial (pins 0/1), so the host
// talks through a USB-serial adapter: an Uno through SoftwareSerial on pins 7 (RX) / 8 (TX) at 57600,
// a Mega through its second UART Serial1 on pins 19 (RX1) / 18 (TX1) at 115200 (a Mega's
// SoftwareSerial can only receive on pins 10-15, 50-53 and A8-A15). A Due or Zero uses its native
// USB port (SerialUSB) and boards whose USB port is not the shield's UART (Leonardo, MKR) use
// Serial, both at 115200.

#include <DynamixelShield.h>

#if defined(ARDUINO_AVR_UNO)
#include <SoftwareSerial.h>
SoftwareSerial host_serial(7, 8);
#define HOST host_serial
const unsigned long HOST_BAUD = 57600;
#elif defined(ARDUINO_AVR_MEGA2560)
#define HOST Serial1
const unsigned long HOST_BAUD = 115200;
#elif defined(ARDUINO_SAM_DUE) || defined(ARDUINO_SAM_ZERO)
#define HOST SerialUSB
const unsigned long HOST_BAUD = 115200;
#else
#define HOST Serial
const unsigned long HOST_BAUD = 115200;
#endif

using namespace ControlTableItem;

const int PROTOCOL_VERSION = 1;
const uint8_t MOTOR_ID = 1;
const unsigned long DXL_BAUD = 1000000;
const int POT_PIN = A0;
const float POT_RANGE_RAD = 5.236;  // 300 degree single-turn potentiometer
const float RAD_PER_TICK = 6.283185307 / 4096.0;
const float MX64_NM_PER_LOAD_UNIT = 0.006;          // P1.0: 0.1 % of 6.0 N·m stall torque
const float MX64_NM_PER_CURRENT_UNIT = 0.0049171;   // P2.0: 3.36 mA/unit x 6.0 N·m / 4.1 A

// Bridge error bits (ERROR_BITS in arduino.py).
const uint8_t ERR_VOLTAGE = 1 << 0, ERR_OVERHEAT = 1 << 1, ERR_OVERLOAD = 1 << 2;
const uint8_t ERR_ENCODER = 1 << 3, ERR_SHOCK = 1 << 4, ERR_MOTOR_LOST = 1 << 5;
const uint8_t SHUTDOWN_ERRORS = ERR_VOLTAGE | ERR_OVERHEAT | ERR_OVERLOAD | ERR_ENCODER | ERR_SHOCK;

DynamixelShield dxl;

enum Source { SOURCE_POT, SOURCE_DXL1, SOURCE_DXL2 };
Source source = SOURCE_POT;
char mode[10] = "compliant";
int resist_permille = 300;
bool torque = false;
uint16_t sequence = 0;
uint8_t errors = 0;
float last_pot_angle = 0.0;
unsigned long last_pot_micros = 0;

char line[64];
uint8_t line_length = 0;

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
  if (star == NULL || strlen(star) != 3) return false;
  *star = '\0';
  return (uint8_t)strtol(star + 1, NULL, 16) == xor_checksum(text);
}

bool find_motor(float protocol) {
  dxl.setPortProtocolVersion(protocol);
  return dxl.ping(MOTOR_ID);
}

uint8_t read_motor_errors() {
  uint8_t bridge = 0;
  if (source == SOURCE_DXL2) {
    int32_t bits = dxl.readControlTableItem(HARDWARE_ERROR_STATUS, MOTOR_ID);
    if (bits < 0) return ERR_MOTOR_LOST;
    if (bits & 0x01) bridge |= ERR_VOLTAGE;
    if (bits & 0x04) bridge |= ERR_OVERHEAT;
    if (bits & 0x08) bridge |= ERR_ENCODER;
    if (bits & 0x10) bridge |= ERR_SHOCK;
    if (bits & 0x20) bridge |= ERR_OVERLOAD;
  } else {
    uint8_t bits = dxl.getLastStatusPacketError();
    if (bits & 0x01) bridge |= ERR_VOLTAGE;
    if (bits & 0x04) bridge |= ERR_OVERHEAT;
    if (bits & 0x20) bridge |= ERR_OVERLOAD;
  }
  return bridge;
}

void apply_torque() {
  if (source == SOURCE_POT) return;
  bool on = torque && strcmp(mode, "compliant") != 0 && !(errors & SHUTDOWN_ERRORS);
  dxl.torqueOff(MOTOR_ID);
  if (!on) return;
  bool hold = strcmp(mode, "hold") == 0;
  if (source == SOURCE_DXL2) {
    dxl.setOperatingMode(MOTOR_ID, hold ? OP_POSITION : OP_CURRENT_BASED_POSITION);
    int32_t limit = dxl.readControlTableItem(CURRENT_LIMIT, MOTOR_ID);
    dxl.writeControlTableItem(GOAL_CURRENT, MOTOR_ID, hold ? limit : (limit * resist_permille) / 1000);
  } else {
    int32_t full = dxl.readControlTableItem(MAX_TORQUE, MOTOR_ID);
    dxl.writeControlTableItem(TORQUE_LIMIT, MOTOR_ID, hold ? full : (full * resist_permille) / 1000);
  }
  dxl.setGoalPosition(MOTOR_ID, dxl.getPresentPosition(MOTOR_ID, UNIT_RAW), UNIT_RAW);
  dxl.torqueOn(MOTOR_ID);
}

void reply_angle() {
  long position_mrad = 0, velocity_mrad_s = 0, effort_mnm = 0, temperature = 0, voltage_dv = 0;
  if (source == SOURCE_POT) {
    unsigned long now = micros();
    float angle = (analogRead(POT_PIN) - 511.5) / 1023.0 * POT_RANGE_RAD;
    float dt = (now - last_pot_micros) * 1e-6;
    velocity_mrad_s = dt > 0 ? (long)((angle - last_pot_angle) / dt * 1000.0) : 0;
    last_pot_angle = angle;
    last_pot_micros = now;
    position_mrad = (long)(angle * 1000.0);
  } else {
    float ticks = dxl.getPresentPosition(MOTOR_ID, UNIT_RAW);
    errors = read_motor_errors();
    position_mrad = (long)((ticks - 2048.0) * RAD_PER_TICK * 1000.0);
    velocity_mrad_s = (long)(dxl.getPresentVelocity(MOTOR_ID, UNIT_RPM) * 104.71976);
    if (source == SOURCE_DXL2) {
      effort_mnm = (long)(dxl.getPresentCurrent(MOTOR_ID, UNIT_RAW) * MX64_NM_PER_CURRENT_UNIT * 1000.0);
    } else {
      int32_t load = dxl.readControlTableItem(PRESENT_LOAD, MOTOR_ID);
      int32_t signed_load = (load & 0x400) ? -(load & 0x3FF) : (load & 0x3FF);
      effort_mnm = (long)(signed_load * MX64_NM_PER_LOAD_UNIT * 1000.0);
    }
    temperature = dxl.readControlTableItem(PRESENT_TEMPERATURE, MOTOR_ID);
    // The MX-64 P1.0 table names address 42 PRESENT_VOLTAGE; P2.0 has PRESENT_INPUT_VOLTAGE (144).
    voltage_dv = dxl.readControlTableItem(source == SOURCE_DXL2 ? PRESENT_INPUT_VOLTAGE : PRESENT_VOLTAGE, MOTOR_ID);
    if ((errors & SHUTDOWN_ERRORS) && torque) {
      torque = false;
      dxl.torqueOff(MOTOR_ID);
    }
  }
  sequence++;
  char body[64];
  snprintf(body, sizeof(body), "A %u %ld %ld %ld %ld %ld %02X %d", sequence, position_mrad, velocity_mrad_s,
           effort_mnm, temperature, voltage_dv, errors, torque ? 1 : 0);
  send_line(body);
}

void handle(char *text) {
  if (!verify_line(text)) {
    send_line("ERR checksum");
    return;
  }
  char *command = strtok(text, " ");
  char *arg1 = strtok(NULL, " ");
  char *arg2 = strtok(NULL, " ");
  char body[48];
  if (command == NULL) {
    send_line("ERR command");
  } else if (strcmp(command, "HELLO") == 0) {
    snprintf(body, sizeof(body), "PDB %d %s", PROTOCOL_VERSION,
             source == SOURCE_DXL2 ? "dxl2" : source == SOURCE_DXL1 ? "dxl1" : "pot");
    send_line(body);
  } else if (strcmp(command, "READ") == 0) {
    reply_angle();
  } else if (strcmp(command, "MODE") == 0 && arg1 && arg2 &&
             (!strcmp(arg1, "compliant") || !strcmp(arg1, "hold") || !strcmp(arg1, "resist"))) {
    strncpy(mode, arg1, sizeof(mode) - 1);
    resist_permille = constrain(atoi(arg2), 0, 1000);
    apply_torque();
    snprintf(body, sizeof(body), "OK MODE %s %s", arg1, arg2);
    send_line(body);
  } else if (strcmp(command, "TORQUE") == 0 && arg1 && (!strcmp(arg1, "0") || !strcmp(arg1, "1"))) {
    bool on = arg1[0] == '1';
    if (on && source == SOURCE_POT) {
      send_line("ERR nomotor");
    } else if (on && (errors & SHUTDOWN_ERRORS)) {
      send_line("ERR fault");
    } else {
      torque = on;
      apply_torque();
      snprintf(body, sizeof(body), "OK TORQUE %s", arg1);
      send_line(body);
    }
  } else {
    send_line("ERR command");
  }
}

void setup() {
  HOST.begin(HOST_BAUD);
  dxl.begin(DXL_BAUD);
  if (find_motor(2.0)) {
    source = SOURCE_DXL2;
  } else if (find_motor(1.0)) {
    source = SOURCE_DXL1;
  } else {
    source = SOURCE_POT;
  }
  if (source != SOURCE_POT) dxl.torqueOff(MOTOR_ID);  // compliant until the host asks otherwise
  last_pot_micros = micros();
}

void loop() {
  while (HOST.available()) {
    char c = (char)HOST.read();
    if (c == '\r') continue;
    if (c == '\n') {
      line[line_length] = '\0';
      if (line_length > 0) handle(line);
      line_length = 0;
    } else if (line_length < sizeof(line) - 1) {
      line[line_length++] = c;
    } else {
      line_length = 0;  // overlong line: drop it, the host times out and retries
    }
  }
}
