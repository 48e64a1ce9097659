// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IERC20Like {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

interface IERC1155Receiver {
    function onERC1155Received(address operator, address from, uint256 id, uint256 value, bytes calldata data)
        external returns (bytes4);
    function onERC1155BatchReceived(
        address operator, address from, uint256[] calldata ids, uint256[] calldata values, bytes calldata data
    ) external returns (bytes4);
}

/// The Conditional Tokens framework, written here from its public specification (Gnosis
/// ConditionalTokens, the contract Polymarket's CTF is): ERC-1155 positions; a condition is
/// keccak256(oracle, questionId, outcomeSlotCount); a collection id is the alt_bn128 point
/// hash of (conditionId, indexSet) (CTHelpers); a position id is
/// keccak256(collateralToken, collectionId). split / merge / redeem / reportPayouts keep the
/// reference semantics. Limitation of this version: only top-level positions
/// (parentCollectionId = 0x0, the only kind Polymarket uses).
contract ConditionalTokens {
    uint256 private constant P = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    uint256 private constant B = 3;

    mapping(uint256 => mapping(address => uint256)) private _balances;
    mapping(address => mapping(address => bool)) private _operatorApprovals;
    mapping(bytes32 => uint256[]) public payoutNumerators;
    mapping(bytes32 => uint256) public payoutDenominator;

    event TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value);
    event TransferBatch(
        address indexed operator, address indexed from, address indexed to, uint256[] ids, uint256[] values
    );
    event ApprovalForAll(address indexed owner, address indexed operator, bool approved);
    event ConditionPreparation(
        bytes32 indexed conditionId, address indexed oracle, bytes32 indexed questionId, uint256 outcomeSlotCount
    );
    event ConditionResolution(
        bytes32 indexed conditionId, address indexed oracle, bytes32 indexed questionId,
        uint256 outcomeSlotCount, uint256[] payoutNumerators
    );
    event PositionSplit(
        address indexed stakeholder, address collateralToken, bytes32 indexed parentCollectionId,
        bytes32 indexed conditionId, uint256[] partition, uint256 amount
    );
    event PositionsMerge(
        address indexed stakeholder, address collateralToken, bytes32 indexed parentCollectionId,
        bytes32 indexed conditionId, uint256[] partition, uint256 amount
    );
    event PayoutRedemption(
        address indexed redeemer, address indexed collateralToken, bytes32 indexed parentCollectionId,
        bytes32 conditionId, uint256[] indexSets, uint256 payout
    );

    // ---- ERC-1155 --------------------------------------------------------------------------

    function supportsInterface(bytes4 id) external pure returns (bool) {
        return id == 0x01ffc9a7 || id == 0xd9b67a26;
    }

    function balanceOf(address owner, uint256 id) public view returns (uint256) {
        return _balances[id][owner];
    }

    function balanceOfBatch(address[] calldata owners, uint256[] calldata ids)
        external view returns (uint256[] memory out)
    {
        require(owners.length == ids.length, "ERC1155: accounts and ids length mismatch");
        out = new uint256[](owners.length);
        for (uint256 i = 0; i < owners.length; i++) out[i] = _balances[ids[i]][owners[i]];
    }

    function setApprovalForAll(address operator, bool approved) external {
        _operatorApprovals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    function isApprovedForAll(address owner, address operator) public view returns (bool) {
        return _operatorApprovals[owner][operator];
    }

    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes calldata data) external {
        require(from == msg.sender || isApprovedForAll(from, msg.sender), "ERC1155: caller is not owner nor approved");
        require(to != address(0), "ERC1155: target address must be non-zero");
        _move(from, to, id, value);
        emit TransferSingle(msg.sender, from, to, id, value);
        _acceptSingle(msg.sender, from, to, id, value, data);
    }

    function safeBatchTransferFrom(
        address from, address to, uint256[] calldata ids, uint256[] calldata values, bytes calldata data
    ) external {
        require(ids.length == values.length, "ERC1155: ids and values length mismatch");
        require(from == msg.sender || isApprovedForAll(from, msg.sender), "ERC1155: caller is not owner nor approved");
        require(to != address(0), "ERC1155: target address must be non-zero");
        for (uint256 i = 0; i < ids.length; i++) _move(from, to, ids[i], values[i]);
        emit TransferBatch(msg.sender, from, to, ids, values);
        if (to.code.length > 0) {
            require(
                IERC1155Receiver(to).onERC1155BatchReceived(msg.sender, from, ids, values, data) == 0xbc197c81,
                "ERC1155: got unknown value from onERC1155BatchReceived"
            );
        }
    }

    function _move(address from, address to, uint256 id, uint256 value) private {
        require(_balances[id][from] >= value, "ERC1155: insufficient balance for transfer");
        _balances[id][from] -= value;
        _balances[id][to] += value;
    }

    function _acceptSingle(address operator, address from, address to, uint256 id, uint256 value, bytes memory data)
        private
    {
        if (to.code.length > 0) {
            require(
                IERC1155Receiver(to).onERC1155Received(operator, from, id, value, data) == 0xf23a6e61,
                "ERC1155: got unknown value from onERC1155Received"
            );
        }
    }

    function _mint(address to, uint256 id, uint256 value) private {
        _balances[id][to] += value;
        emit TransferSingle(msg.sender, address(0), to, id, value);
        _acceptSingle(msg.sender, address(0), to, id, value, "");
    }

    function _burn(address from, uint256 id, uint256 value) private {
        require(_balances[id][from] >= value, "ERC1155: burn amount exceeds balance");
        _balances[id][from] -= value;
        emit TransferSingle(msg.sender, from, address(0), id, value);
    }

    // ---- Conditions ------------------------------------------------------------------------

    function prepareCondition(address oracle, bytes32 questionId, uint256 outcomeSlotCount) external {
        require(outcomeSlotCount <= 256, "too many outcome slots");
        require(outcomeSlotCount > 1, "there should be more than one outcome slot");
        bytes32 conditionId = getConditionId(oracle, questionId, outcomeSlotCount);
        require(payoutNumerators[conditionId].length == 0, "condition already prepared");
        payoutNumerators[conditionId] = new uint256[](outcomeSlotCount);
        emit ConditionPreparation(conditionId, oracle, questionId, outcomeSlotCount);
    }

    function reportPayouts(bytes32 questionId, uint256[] calldata payouts) external {
        uint256 outcomeSlotCount = payouts.length;
        require(outcomeSlotCount > 1, "there should be more than one outcome slot");
        bytes32 conditionId = getConditionId(msg.sender, questionId, outcomeSlotCount);
        require(payoutNumerators[conditionId].length == outcomeSlotCount, "condition not prepared or found");
        require(payoutDenominator[conditionId] == 0, "payout denominator already set");
        uint256 den = 0;
        for (uint256 i = 0; i < outcomeSlotCount; i++) {
            den += payouts[i];
            require(payoutNumerators[conditionId][i] == 0, "payout numerator already set");
            payoutNumerators[conditionId][i] = payouts[i];
        }
        require(den > 0, "payout is all zeroes");
        payoutDenominator[conditionId] = den;
        emit ConditionResolution(conditionId, msg.sender, questionId, outcomeSlotCount, payoutNumerators[conditionId]);
    }

    function getOutcomeSlotCount(bytes32 conditionId) external view returns (uint256) {
        return payoutNumerators[conditionId].length;
    }

    function getConditionId(address oracle, bytes32 questionId, uint256 outcomeSlotCount)
        public pure returns (bytes32)
    {
        return keccak256(abi.encodePacked(oracle, questionId, outcomeSlotCount));
    }

    // ---- Positions -------------------------------------------------------------------------

    function splitPosition(
        IERC20Like collateralToken, bytes32 parentCollectionId, bytes32 conditionId,
        uint256[] calldata partition, uint256 amount
    ) external {
        uint256 fullIndexSet = _checkPartition(parentCollectionId, conditionId, partition);
        uint256 freed = _union(partition, fullIndexSet);
        if (freed == fullIndexSet) {
            require(collateralToken.transferFrom(msg.sender, address(this), amount), "could not receive collateral tokens");
        } else {
            _burn(msg.sender, getPositionId(collateralToken, getCollectionId(0, conditionId, freed)), amount);
        }
        for (uint256 i = 0; i < partition.length; i++) {
            _mint(msg.sender, getPositionId(collateralToken, getCollectionId(0, conditionId, partition[i])), amount);
        }
        emit PositionSplit(msg.sender, address(collateralToken), parentCollectionId, conditionId, partition, amount);
    }

    function mergePositions(
        IERC20Like collateralToken, bytes32 parentCollectionId, bytes32 conditionId,
        uint256[] calldata partition, uint256 amount
    ) external {
        uint256 fullIndexSet = _checkPartition(parentCollectionId, conditionId, partition);
        uint256 freed = _union(partition, fullIndexSet);
        for (uint256 i = 0; i < partition.length; i++) {
            _burn(msg.sender, getPositionId(collateralToken, getCollectionId(0, conditionId, partition[i])), amount);
        }
        if (freed == fullIndexSet) {
            require(collateralToken.transfer(msg.sender, amount), "could not send collateral tokens");
        } else {
            _mint(msg.sender, getPositionId(collateralToken, getCollectionId(0, conditionId, freed)), amount);
        }
        emit PositionsMerge(msg.sender, address(collateralToken), parentCollectionId, conditionId, partition, amount);
    }

    function redeemPositions(
        IERC20Like collateralToken, bytes32 parentCollectionId, bytes32 conditionId, uint256[] calldata indexSets
    ) external {
        require(parentCollectionId == bytes32(0), "only top-level positions are supported here");
        uint256 den = payoutDenominator[conditionId];
        require(den > 0, "result for condition not received yet");
        uint256 outcomeSlotCount = payoutNumerators[conditionId].length;
        require(outcomeSlotCount > 0, "condition not prepared yet");
        uint256 fullIndexSet = (1 << outcomeSlotCount) - 1;
        uint256 totalPayout = 0;
        for (uint256 i = 0; i < indexSets.length; i++) {
            uint256 indexSet = indexSets[i];
            require(indexSet > 0 && indexSet < fullIndexSet, "got invalid index set");
            uint256 positionId = getPositionId(collateralToken, getCollectionId(0, conditionId, indexSet));
            uint256 numerator = 0;
            for (uint256 j = 0; j < outcomeSlotCount; j++) {
                if (indexSet & (1 << j) != 0) numerator += payoutNumerators[conditionId][j];
            }
            uint256 stake = _balances[positionId][msg.sender];
            if (stake > 0) {
                totalPayout += stake * numerator / den;
                _burn(msg.sender, positionId, stake);
            }
        }
        if (totalPayout > 0) {
            require(collateralToken.transfer(msg.sender, totalPayout), "could not transfer payout to message sender");
        }
        emit PayoutRedemption(msg.sender, address(collateralToken), parentCollectionId, conditionId, indexSets, totalPayout);
    }

    function _checkPartition(bytes32 parentCollectionId, bytes32 conditionId, uint256[] calldata partition)
        private view returns (uint256 fullIndexSet)
    {
        require(parentCollectionId == bytes32(0), "only top-level positions are supported here");
        require(partition.length > 1, "got empty or singleton partition");
        uint256 outcomeSlotCount = payoutNumerators[conditionId].length;
        require(outcomeSlotCount > 0, "condition not prepared yet");
        fullIndexSet = (1 << outcomeSlotCount) - 1;
    }

    function _union(uint256[] calldata partition, uint256 fullIndexSet) private pure returns (uint256 freed) {
        for (uint256 i = 0; i < partition.length; i++) {
            uint256 indexSet = partition[i];
            require(indexSet > 0 && indexSet < fullIndexSet, "got invalid index set");
            require((indexSet & freed) == 0, "partition not disjoint");
            freed |= indexSet;
        }
    }

    // ---- Ids (CTHelpers) -------------------------------------------------------------------

    function getCollectionId(bytes32 parentCollectionId, bytes32 conditionId, uint256 indexSet)
        public view returns (bytes32)
    {
        require(parentCollectionId == bytes32(0), "only top-level positions are supported here");
        uint256 x1 = uint256(keccak256(abi.encodePacked(conditionId, indexSet)));
        bool odd = x1 >> 255 != 0;
        uint256 y1;
        uint256 yy;
        do {
            x1 = addmod(x1, 1, P);
            yy = addmod(mulmod(x1, mulmod(x1, x1, P), P), B, P);
            y1 = _sqrt(yy);
        } while (mulmod(y1, y1, P) != yy);
        if ((odd && y1 % 2 == 0) || (!odd && y1 % 2 == 1)) y1 = P - y1;
        if (y1 % 2 == 1) x1 ^= 1 << 254;
        return bytes32(x1);
    }

    function getPositionId(IERC20Like collateralToken, bytes32 collectionId) public pure returns (uint256) {
        return uint256(keccak256(abi.encodePacked(collateralToken, collectionId)));
    }

    function _sqrt(uint256 x) private view returns (uint256 y) {
        // x ** ((P + 1) / 4) mod P through the modexp precompile (P ≡ 3 mod 4)
        uint256 e = (P + 1) / 4;
        (bool ok, bytes memory out) = address(5).staticcall(abi.encode(32, 32, 32, x, e, P));
        require(ok, "modexp failed");
        y = abi.decode(out, (uint256));
    }
}
