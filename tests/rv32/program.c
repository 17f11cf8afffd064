/* A C program for the lockstep check: sorting, a CRC, division and a table, results on the core bus. */
#include <stdint.h>

#define SOC_RAM ((volatile uint32_t *)0x10000000u)

static uint32_t crc32(const uint8_t *data, int n) {
    uint32_t crc = 0xffffffffu;
    for (int i = 0; i < n; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}

static void sort(int32_t *a, int n) {
    for (int i = 1; i < n; i++) {
        int32_t v = a[i];
        int j = i - 1;
        while (j >= 0 && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static int32_t values[24];
static const int16_t table[8] = {-300, 7, 12000, -1, 0, 42, -32768, 32767};

void test(void) {
    uint32_t seed = 12345;
    for (int i = 0; i < 24; i++) {
        seed = seed * 1103515245u + 12345u;
        values[i] = (int32_t)seed / 7 - (int32_t)(seed % 1000);
    }
    sort(values, 24);
    SOC_RAM[0] = crc32((const uint8_t *)values, sizeof values);
    int64_t acc = 0;
    for (int i = 0; i < 8; i++)
        acc += (int64_t)table[i] * values[i] / (i + 1);
    SOC_RAM[1] = (uint32_t)acc;
    SOC_RAM[2] = (uint32_t)(acc >> 32);
}
