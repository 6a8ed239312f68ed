// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
