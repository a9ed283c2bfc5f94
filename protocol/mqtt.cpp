#include "protocol/mqtt.hpp"
