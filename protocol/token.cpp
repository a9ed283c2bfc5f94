#include "protocol/token.hpp"
