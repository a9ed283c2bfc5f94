#include "server/hub.hpp"

#include <gtest/gtest.h>
