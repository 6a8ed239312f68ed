// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: looperd contributors
int main() { return 0; }
